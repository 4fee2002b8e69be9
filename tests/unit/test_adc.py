"""ADS1299 count conversion and its 24-bit big-endian byte format."""

from __future__ import annotations

import numpy as np
import pytest

from eegd.errors import ProtocolError
from eegd.sources.adc import (
    ADS1299_GAINS,
    COUNT_MAX,
    COUNT_MIN,
    Ads1299Scale,
    decode_24bit,
    encode_24bit,
)


def test_default_lsb_is_the_datasheet_value() -> None:
    assert Ads1299Scale().lsb_volts == pytest.approx(2 * 4.5 / 24 / 2**24, rel=1e-15)
    assert Ads1299Scale().lsb_volts == pytest.approx(22.35e-9, rel=1e-3)


@pytest.mark.parametrize("gain", ADS1299_GAINS)
def test_lsb_scales_with_gain(gain: int) -> None:
    assert Ads1299Scale(gain=gain).lsb_volts == pytest.approx(9.0 / gain / 2**24, rel=1e-15)


@pytest.mark.parametrize("gain", [0, 3, 16, 48])
def test_other_gains_are_rejected(gain: int) -> None:
    with pytest.raises(ValueError, match=rf"gain: {gain} .*1, 2, 4, 6, 8, 12, 24"):
        Ads1299Scale(gain=gain)


def test_counts_and_volts_round_trip() -> None:
    scale = Ads1299Scale()
    counts = np.array([[COUNT_MIN, -12345, -1, 0, 1, 12345, COUNT_MAX]], dtype=np.int32)
    volts = scale.to_volts(counts)
    assert volts.dtype == np.float32
    back = scale.to_counts(volts)
    assert back.dtype == np.int32
    np.testing.assert_array_equal(back, counts)


def test_to_counts_rounds_to_the_nearest_count() -> None:
    scale = Ads1299Scale()
    lsb = scale.lsb_volts
    np.testing.assert_array_equal(
        scale.to_counts([0.4 * lsb, 0.6 * lsb, -0.6 * lsb, 100.49 * lsb]), [0, 1, -1, 100]
    )


def test_to_counts_clips_to_the_24_bit_range() -> None:
    counts = Ads1299Scale().to_counts([-1.0, 1.0, -np.inf, np.inf])
    np.testing.assert_array_equal(counts, [COUNT_MIN, COUNT_MAX, COUNT_MIN, COUNT_MAX])


def test_full_scale_is_plus_minus_vref_over_gain() -> None:
    scale = Ads1299Scale()
    assert scale.to_volts(np.int32(COUNT_MIN)) == pytest.approx(-4.5 / 24, rel=1e-6)
    assert scale.to_volts(np.int32(COUNT_MAX)) == pytest.approx(4.5 / 24, rel=1e-6)


def test_nan_volts_are_refused() -> None:
    with pytest.raises(ValueError, match="NaN"):
        Ads1299Scale().to_counts([0.0, np.nan])


def test_a_known_byte_pattern_decodes_by_hand() -> None:
    # Two samples of two channels: (1, -1) then (full scale +, full scale -).
    data = bytes.fromhex("000001 FFFFFF 7FFFFF 800000")
    counts = decode_24bit(data, n_channels=2)
    assert counts.dtype == np.int32
    np.testing.assert_array_equal(counts, [[1, COUNT_MAX], [-1, COUNT_MIN]])


@pytest.mark.parametrize(
    ("octets", "value"),
    [
        ("7FFFFF", 2**23 - 1),
        ("800000", -(2**23)),
        ("800001", -(2**23) + 1),
        ("FFFFFF", -1),
        ("000000", 0),
        ("123456", 0x123456),
        ("FEDCBA", 0xFEDCBA - 2**24),
    ],
)
def test_sign_extension(octets: str, value: int) -> None:
    assert decode_24bit(bytes.fromhex(octets), n_channels=1)[0, 0] == value


def test_encode_is_the_inverse_of_decode() -> None:
    rng = np.random.default_rng(7)
    counts = rng.integers(COUNT_MIN, COUNT_MAX, size=(8, 100), endpoint=True, dtype=np.int32)
    counts[0, :2] = (COUNT_MIN, COUNT_MAX)
    data = encode_24bit(counts)
    assert len(data) == 3 * counts.size
    np.testing.assert_array_equal(decode_24bit(data, n_channels=8), counts)
    assert encode_24bit(decode_24bit(data, n_channels=8)) == data


def test_encode_orders_bytes_like_the_chip() -> None:
    counts = np.array([[1, COUNT_MAX], [-1, COUNT_MIN]], dtype=np.int32)
    assert encode_24bit(counts) == bytes.fromhex("000001 FFFFFF 7FFFFF 800000")


def test_encode_refuses_counts_that_do_not_fit() -> None:
    with pytest.raises(ValueError, match="24 bits"):
        encode_24bit(np.array([[COUNT_MAX + 1]]))
    with pytest.raises(ValueError, match="2-D integer"):
        encode_24bit(np.array([1.5]))


@pytest.mark.parametrize("length", [1, 5, 7, 25])
def test_partial_samples_are_a_protocol_error(length: int) -> None:
    with pytest.raises(ProtocolError, match=rf"{length} bytes .*3 bytes × 2 channels = 6"):
        decode_24bit(bytes(length), n_channels=2)


def test_empty_data_decodes_to_no_samples() -> None:
    assert decode_24bit(b"", n_channels=4).shape == (4, 0)
