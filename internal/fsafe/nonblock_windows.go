package fsafe

const oNonblock = 0
