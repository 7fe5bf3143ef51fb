"""A dependency-free scatter chart written as PNG (axes, grid and points; the caption goes in the report)."""
from __future__ import annotations

import struct
import zlib
from pathlib import Path

W, H, M = 800, 400, 40


def scatter_png(points: list[tuple[float, float]], path: Path, y_max: float | None = None) -> None:
    """points: (x, y); x from the left edge, y up from the bottom, both scaled to the data range."""
    pixels = bytearray(b"\xff" * (W * H * 3))

    def put(x: int, y: int, rgb: tuple[int, int, int]) -> None:
        if 0 <= x < W and 0 <= y < H:
            i = (y * W + x) * 3
            pixels[i:i + 3] = bytes(rgb)
    x_max = max((p[0] for p in points), default=1) or 1
    y_max = y_max or max((p[1] for p in points), default=1) or 1
    for k in range(11):  # grid every 10 % of each axis
        gx, gy = M + k * (W - 2 * M) // 10, H - M - k * (H - 2 * M) // 10
        for y in range(M, H - M):
            put(gx, y, (225, 225, 225))
        for x in range(M, W - M):
            put(x, gy, (225, 225, 225))
    for x in range(M, W - M):
        put(x, H - M, (0, 0, 0))
    for y in range(M, H - M):
        put(M, y, (0, 0, 0))
    for px, py in points:
        cx = M + int(px / x_max * (W - 2 * M))
        cy = H - M - int(min(py, y_max) / y_max * (H - 2 * M))
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                put(cx + dx, cy + dy, (31, 90, 180))
    raw = b"".join(b"\x00" + bytes(pixels[y * W * 3:(y + 1) * W * 3]) for y in range(H))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", W, H, 8, 2, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    path.write_bytes(png)
