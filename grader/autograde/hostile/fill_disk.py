"""Write files until the disk is full (and keep trying)."""

block = b"x" * 2**20
for number in range(100000):
    try:
        with open(f"fill-{number}", "wb") as f:
            for _ in range(1024):
                f.write(block)
    except OSError:
        continue
    except BaseException:
        break
