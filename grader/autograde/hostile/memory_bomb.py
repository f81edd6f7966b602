"""Allocate without end, catching MemoryError to keep going."""

hoard = []
while True:
    try:
        hoard.append(bytearray(64 * 2**20))
    except MemoryError:
        hoard = hoard[len(hoard) // 2 :]
