// RFC 9440 Byte Sequence built from nginx's PEM: the base64 body between colons.
function clientCert(r) {
    if (r.variables.ssl_client_verify !== 'SUCCESS') return '';
    var pem = r.variables.ssl_client_raw_cert;
    if (!pem) return '';
    return ':' + pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '') + ':';
}
export default { clientCert };
