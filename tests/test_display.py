"""Images as the browser gets them: small, 8-bit, stretched, never decoded whole."""

import numpy as np
import pytest
import rasterio
from PIL import Image
from rasterio.transform import from_origin

from geolabel_widgets.imagery.display import display_jpeg, read_display_array, to_rgb8
from geolabel_widgets.imagery.header import UnreadableImage


def test_a_large_jpeg_is_shown_downsampled(shared_data):
    array = read_display_array(shared_data / "imagery" / "orthomosaic.jpg", max_size=512)
    assert array.shape == (512, 512, 3) and array.dtype == np.uint8
    jpeg, size = display_jpeg(shared_data / "imagery" / "orthomosaic.jpg", 512)
    assert size == (512, 512) and jpeg[:2] == b"\xff\xd8" and len(jpeg) < 200_000


def test_a_16_bit_multiband_geotiff_is_stretched_and_bands_can_be_chosen(tmp_path):
    path = tmp_path / "s2.tif"
    rng = np.random.default_rng(0)
    data = np.stack([np.full((300, 400), 1000 * (b + 1), np.uint16) +
                     rng.integers(0, 500, (300, 400), dtype=np.uint16) for b in range(4)])
    with rasterio.open(path, "w", driver="GTiff", width=400, height=300, count=4,
                       dtype="uint16", crs="EPSG:32617",
                       transform=from_origin(500000, 3000000, 10, 10)) as dst:
        dst.write(data)
    shown = read_display_array(path, max_size=200)
    assert shown.shape == (150, 200, 3) and shown.dtype == np.uint8
    assert 100 < shown.mean() < 160  # a percentile stretch spreads the values out
    nir = read_display_array(path, max_size=200, bands=(4, 4, 4))
    assert np.array_equal(nir[..., 0], nir[..., 1])



def test_bands_marked_blue_green_red_are_shown_as_red_green_blue(tmp_path):
    from rasterio.enums import ColorInterp

    path = tmp_path / "bgrn.tif"
    bands = np.zeros((4, 20, 30), np.uint16)
    bands[2, :, :10] = bands[1, :, 10:20] = bands[0, :, 20:] = 1000  # red, green, blue thirds
    bands[3] = 700
    with rasterio.open(path, "w", driver="GTiff", width=30, height=20, count=4,
                       dtype="uint16", crs="EPSG:32617",
                       transform=from_origin(500000, 3000000, 10, 10)) as dst:
        dst.write(bands)
        dst.colorinterp = [ColorInterp.blue, ColorInterp.green, ColorInterp.red,
                           ColorInterp.undefined]
    shown = read_display_array(path, max_size=30, percentiles=(0, 100))
    assert [shown[0, x].tolist() for x in (5, 15, 25)] == [[255, 0, 0], [0, 255, 0], [0, 0, 255]]
    assert read_display_array(path, max_size=30, bands=(3, 2, 1)).tolist() == shown.tolist()


def test_one_band_is_grey_and_flat_data_does_not_divide_by_zero():
    grey = to_rgb8(np.full((4, 4), 7.0, np.float32))
    assert grey.shape == (4, 4, 3) and np.all(grey == grey[0, 0, 0])


def test_missing_and_broken_files_say_what_is_wrong(tmp_path):
    with pytest.raises(UnreadableImage, match="is missing"):
        read_display_array(tmp_path / "gone.jpg")
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n nothing else")
    with pytest.raises(UnreadableImage, match="cannot be shown"):
        read_display_array(broken)


def test_a_palette_png_and_an_npz_image_show_in_colour(tmp_path):
    palette = Image.new("P", (20, 10))
    palette.putpalette([255, 0, 0] * 256)
    palette.save(tmp_path / "p.png")
    assert read_display_array(tmp_path / "p.png")[0, 0].tolist() == [255, 0, 0]
    np.savez(tmp_path / "x.npz", image=np.zeros((2000, 1000, 3), np.uint8))
    assert read_display_array(tmp_path / "x.npz", max_size=500).shape == (500, 250, 3)


def test_a_photo_turned_by_its_exif_orientation_is_shown_and_sized_upright(tmp_path):
    """A phone photo stored landscape with orientation 6 ("turn a quarter clockwise")
    is shown portrait, as every viewer shows it; its header, its shown pixels and a
    zoomed region all agree, so a label lands where the labeler saw it."""
    from geolabel_widgets import LabelStore
    from geolabel_widgets.imagery.display import read_display_region
    from geolabel_widgets.imagery.header import read_header

    stored = np.zeros((32, 64, 3), np.uint8)  # as the sensor wrote it: 64 wide
    stored[:, :32] = (220, 30, 30)  # red on the stored left: on top once turned
    stored[:, 32:] = (30, 30, 220)
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "phone.jpg"
    Image.fromarray(stored).save(path, quality=95, exif=exif)

    header = read_header(path)
    assert (header.width, header.height) == (32, 64)
    shown = read_display_array(path, max_size=64)
    assert shown.shape == (64, 32, 3)
    assert shown[:24, :, 0].mean() > 180 and shown[40:, :, 2].mean() > 180
    top = read_display_region(path, (0, 0, 32, 32), (16, 16))
    assert top[..., 0].mean() > 180 and top[..., 2].mean() < 80
    with LabelStore.open(tmp_path / "store.sqlite") as store:
        store.add_images(path, dataset="phone", progress=False)
        assert store.images[["width", "height"]].values.tolist() == [[32, 64]]
