/*
 * bcryptprimitives.dll stand-in for Wine 8.0, which lacks it.
 *
 * Every Go >= 1.22 program for windows takes its randomness from
 * ProcessPrng in bcryptprimitives.dll and dies at start without it. This
 * DLL exports ProcessPrng and fills the buffer from RtlGenRandom (advapi32
 * SystemFunction036), which Wine has. It is copied into the test prefix's
 * system32 by tests/windows/run.sh; it is never shipped.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
	while (len > 0) {
		ULONG n = len > 0x10000000 ? 0x10000000 : (ULONG)len;
		if (!SystemFunction036(data, n))
			return FALSE;
		data += n;
		len -= n;
	}
	return TRUE;
}

BOOL WINAPI DllMain(HINSTANCE inst, DWORD reason, LPVOID reserved)
{
	(void)inst; (void)reason; (void)reserved;
	return TRUE;
}
