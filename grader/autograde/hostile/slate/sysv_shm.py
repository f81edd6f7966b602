"""Allocate SysV shared memory, touch it and detach it: it would outlive the process."""

import ctypes

libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
IPC_PRIVATE, IPC_CREAT = 0, 0o1000
size = 128 * 2**20
for _ in range(4):
    segment = libc.shmget(IPC_PRIVATE, ctypes.c_size_t(size), IPC_CREAT | 0o666)
    if segment < 0:
        break
    address = libc.shmat(segment, None, 0)
    if address in (None, ctypes.c_void_p(-1).value):
        break
    ctypes.memset(address, 1, size)
    libc.shmdt(ctypes.c_void_p(address))
