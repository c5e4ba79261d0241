import io
import struct
import zlib

import numpy as np
import PIL.Image
import pytest

from workers.inv.errors import ImageError
from workers.inv.images import MIN_IMAGE_SIDE, decode_image, load_image


def _encode(img: PIL.Image.Image, fmt: str = "PNG", **kwargs) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kwargs)
    return buf.getvalue()


def _rgb(w=40, h=30) -> PIL.Image.Image:
    rng = np.random.default_rng(0)
    return PIL.Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))


def test_rgb_png_from_bytes_and_path(tmp_path):
    img = _rgb()
    data = _encode(img)
    out = load_image(data)
    assert out.mode == "RGB" and out.size == (40, 30)
    assert np.array_equal(np.asarray(out), np.asarray(img))
    path = tmp_path / "x.png"
    path.write_bytes(data)
    assert np.array_equal(np.asarray(load_image(path)), np.asarray(img))
    assert np.array_equal(np.asarray(load_image(str(path))), np.asarray(img))


def test_jpeg_is_fully_decoded():
    out = load_image(_encode(_rgb(64, 48), "JPEG", quality=90))
    assert out.mode == "RGB" and out.size == (64, 48)
    out.tobytes()  # already loaded: no file behind it


def test_empty_file(tmp_path):
    with pytest.raises(ImageError, match="empty"):
        load_image(b"")
    p = tmp_path / "empty.jpg"
    p.write_bytes(b"")
    with pytest.raises(ImageError, match="empty"):
        load_image(p)


def test_missing_file(tmp_path):
    with pytest.raises(ImageError, match="does not exist"):
        load_image(tmp_path / "nope.png")


def test_not_an_image():
    with pytest.raises(ImageError, match="not an image"):
        load_image(b"hello, this is plain text and certainly no picture")


def test_truncated_jpeg_and_png():
    jpeg = _encode(_rgb(200, 150), "JPEG", quality=95)
    with pytest.raises(ImageError, match="truncated|corrupt|decoded"):
        load_image(jpeg[: len(jpeg) // 2])
    png = _encode(_rgb(200, 150))
    with pytest.raises(ImageError, match="truncated|corrupt|decoded"):
        load_image(png[: len(png) // 2])


def test_over_pixel_limit():
    with pytest.raises(ImageError, match="more than the limit"):
        load_image(_encode(_rgb(100, 100)), max_pixels=5_000)
    assert load_image(_encode(_rgb(100, 50)), max_pixels=5_000).size == (100, 50)


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))
        + kind
        + payload
        + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)
    )


def test_pixel_limit_checked_before_decoding():
    # PNG headers claiming huge sizes with no pixel data: must fail on size, not on decoding
    for w, h in ((8_000, 6_000), (100_000, 100_000)):  # ours; PIL's own bomb guard
        ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
        data = b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IEND", b"")
        with pytest.raises(ImageError, match="more pixels than the limit|more than the limit"):
            load_image(data, max_pixels=40_000_000)


def test_decompression_bomb_guard(monkeypatch):
    monkeypatch.setattr(PIL.Image, "MAX_IMAGE_PIXELS", 1_000)
    with pytest.raises(ImageError, match="pixels"):
        load_image(_encode(_rgb(100, 100)), max_pixels=10**9)


def test_exif_orientation_applied():
    img = _rgb(40, 20)
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    out = load_image(_encode(img, "JPEG", exif=exif))
    assert out.size == (20, 40)


def test_palette_with_transparency_on_white():
    img = PIL.Image.new("P", (10, 10), 0)
    img.putpalette([255, 0, 0] + [0, 0, 255] * 255)
    img.paste(1, (5, 0, 10, 10))
    out = load_image(_encode(img, transparency=0))
    arr = np.asarray(out)
    assert out.mode == "RGB"
    assert tuple(arr[0, 0]) == (255, 255, 255)  # transparent → white
    assert tuple(arr[0, 9]) == (0, 0, 255)


def test_rgba_alpha_composited():
    arr = np.zeros((8, 8, 4), np.uint8)
    arr[..., 0] = 200
    arr[:, :4, 3] = 255
    out = np.asarray(load_image(_encode(PIL.Image.fromarray(arr, "RGBA"))))
    assert tuple(out[0, 0]) == (200, 0, 0)
    assert tuple(out[0, 7]) == (255, 255, 255)


def test_grey_and_la_and_bw():
    grey = PIL.Image.fromarray(np.full((5, 6), 77, np.uint8))
    out = load_image(_encode(grey))
    assert out.mode == "RGB" and tuple(np.asarray(out)[0, 0]) == (77, 77, 77)
    la = grey.convert("LA")
    assert load_image(_encode(la)).mode == "RGB"
    bw = PIL.Image.new("1", (9, 9), 1)
    assert tuple(np.asarray(load_image(_encode(bw)))[0, 0]) == (255, 255, 255)


def test_16bit_grey_is_scaled_not_clipped():
    arr = np.array([[0, 65535], [257 * 100, 30000]], dtype=np.uint16)
    img = PIL.Image.fromarray(arr)
    out = np.asarray(load_image(_encode(img)))
    assert out.shape == (2, 2, 3)
    assert out[0, 0, 0] == 0 and out[0, 1, 0] == 255 and out[1, 0, 0] == 100


def test_cmyk_jpeg():
    img = _rgb(16, 16).convert("CMYK")
    assert load_image(_encode(img, "JPEG")).mode == "RGB"


def test_error_message_is_str():
    with pytest.raises(ImageError) as info:
        load_image(b"")
    assert str(info.value) == info.value.message


def test_min_side_refuses_a_tiny_image_before_decoding():
    tiny = _encode(_rgb(1, 1))
    assert load_image(tiny).size == (1, 1)  # the engine's own default accepts any size
    with pytest.raises(ImageError, match=r"1×1 pixels; each side must be at least 32 pixels"):
        load_image(tiny, min_side=MIN_IMAGE_SIDE)
    with pytest.raises(ImageError, match="at least 32"):
        load_image(_encode(_rgb(500, 31)), min_side=32)
    assert load_image(_encode(_rgb(32, 32)), min_side=32).size == (32, 32)


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [("PNG", "PNG"), ("JPEG", "JPEG"), ("WEBP", "WEBP"), ("GIF", "GIF"), ("BMP", "BMP")],
)
def test_decode_image_reports_the_format_found_in_the_bytes(fmt, expected):
    decoded = decode_image(_encode(_rgb(40, 40), fmt))
    assert decoded.format == expected
    assert decoded.image.mode == "RGB" and decoded.image.size == (40, 40)
