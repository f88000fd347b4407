//! WAV decoding: every supported format lands as 16 kHz mono with the right
//! duration and level; every broken input fails with a specific error.

use std::path::{Path, PathBuf};

use switchboard::audio::{
    decode_wav_bytes, read_wav, rms_dbfs, write_wav, AudioError, SAMPLE_RATE,
};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn load(name: &str) -> Vec<i16> {
    read_wav(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn secs(samples: &[i16]) -> f64 {
    samples.len() as f64 / f64::from(SAMPLE_RATE)
}

/// Normalised cross-correlation at the best lag within ±`max_lag` samples.
fn similarity(a: &[i16], b: &[i16], max_lag: usize) -> f64 {
    let n = a.len().min(b.len());
    let mut best = f64::MIN;
    for lag in 0..=2 * max_lag {
        let (mut ab, mut aa, mut bb) = (0.0, 0.0, 0.0);
        for i in max_lag..n.saturating_sub(max_lag) {
            let x = f64::from(a[i]);
            let y = f64::from(b[i + lag - max_lag]);
            ab += x * y;
            aa += x * x;
            bb += y * y;
        }
        best = best.max(ab / (aa.sqrt() * bb.sqrt()).max(1e-9));
    }
    best
}

#[test]
fn fixture_formats_decode_to_the_same_duration() {
    let reference = load("short_16k.wav");
    let ref_secs = secs(&reference);
    assert!(ref_secs > 1.0, "reference is {ref_secs} s");
    for name in [
        "short_48k_stereo.wav",
        "short_8k_u8.wav",
        "short_22k_f32.wav",
        "short_8k_ulaw.wav",
    ] {
        let got = load(name);
        let d = (secs(&got) - ref_secs).abs();
        assert!(d <= 0.020, "{name}: {} s vs {ref_secs} s", secs(&got));
    }
}

#[test]
fn speech_fixtures_have_expected_durations() {
    // 16 kHz mono 16-bit files decode sample-exact to their header's length
    // (checked with an independent reader).
    for name in [
        "en_speech_16k.wav",
        "ar_speech_16k.wav",
        "en_pause300_16k.wav",
    ] {
        let header = hound::WavReader::open(fixture(name)).unwrap();
        assert_eq!(header.spec().sample_rate, 16_000);
        let samples = load(name);
        assert_eq!(samples.len() as u32, header.duration(), "{name}");
        assert!(secs(&samples) > 2.0, "{name}: padded speech expected");
    }
}

#[test]
fn resampled_variants_keep_the_waveform() {
    let reference = load("short_16k.wav");
    // 8 kHz variants lose everything above 4 kHz, so they match less closely.
    for (name, min_similarity) in [
        ("short_22k_f32.wav", 0.98),
        ("short_8k_u8.wav", 0.85),
        ("short_8k_ulaw.wav", 0.85),
    ] {
        let got = load(name);
        let s = similarity(&reference, &got, 3);
        assert!(s >= min_similarity, "{name}: similarity {s:.3}");
        let level_diff = rms_dbfs(&got) - rms_dbfs(&reference);
        assert!(
            level_diff.abs() < 1.5,
            "{name}: level differs by {level_diff:.2} dB"
        );
    }
}

#[test]
fn stereo_is_downmixed_by_averaging() {
    // Right channel is the left inverted at half amplitude: the average is a
    // quarter of the mono signal (-12 dB). Left-only would be 0 dB, a sum +6 dB
    // of the wrong sign, etc.
    let reference = load("short_16k.wav");
    let stereo = load("short_48k_stereo.wav");
    let level_diff = rms_dbfs(&stereo) - rms_dbfs(&reference);
    assert!(
        (level_diff + 12.04).abs() < 1.0,
        "downmix level {level_diff:.2} dB"
    );
    assert!(similarity(&reference, &stereo, 3) > 0.98);
}

/// Writes a 0.5 s, 440 Hz sine at half scale with hound in the given format.
fn synth_wav(rate: u32, channels: u16, bits: u16, float: bool) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: bits,
        sample_format: if float {
            hound::SampleFormat::Float
        } else {
            hound::SampleFormat::Int
        },
    };
    let mut cursor = std::io::Cursor::new(Vec::new());
    {
        let mut w = hound::WavWriter::new(&mut cursor, spec).unwrap();
        for i in 0..rate / 2 {
            let v =
                0.5 * (2.0 * std::f64::consts::PI * 440.0 * f64::from(i) / f64::from(rate)).sin();
            for _ in 0..channels {
                if float {
                    w.write_sample(v as f32).unwrap();
                } else {
                    let full = f64::from(1u32 << (bits - 1));
                    w.write_sample((v * full).round().clamp(-full, full - 1.0) as i32)
                        .unwrap();
                }
            }
        }
        w.finalize().unwrap();
    }
    cursor.into_inner()
}

#[test]
fn all_rates_widths_and_channel_counts_decode() {
    // hound writes WAVE_FORMAT_EXTENSIBLE for >2 channels or >16 bits, so
    // this also covers the extensible header.
    let formats: [(u16, bool); 5] = [
        (8, false),
        (16, false),
        (24, false),
        (32, false),
        (32, true),
    ];
    for rate in [8_000u32, 11_025, 16_000, 22_050, 44_100, 48_000] {
        for channels in [1u16, 2, 6] {
            for (bits, float) in formats {
                let what = format!(
                    "{rate} Hz {channels} ch {bits}-bit{}",
                    if float { " float" } else { "" }
                );
                let bytes = synth_wav(rate, channels, bits, float);
                let out = decode_wav_bytes(&bytes).unwrap_or_else(|e| panic!("{what}: {e}"));
                assert!(
                    out.len().abs_diff(8_000) <= 320,
                    "{what}: {} samples",
                    out.len()
                );
                // Half-scale sine: -9.03 dBFS (8-bit quantisation adds a little).
                let level = rms_dbfs(&out[1_000..7_000]);
                assert!((level + 9.03).abs() < 0.3, "{what}: level {level:.2} dBFS");
            }
        }
    }
}

#[test]
fn espeak_streaming_header_is_accepted() {
    // espeak-ng --stdout cannot seek back, so RIFF and data sizes are the
    // placeholder 0x7ffff000; the audio is whatever follows the header.
    let bytes = std::fs::read(fixture("espeak_stdout_22k.wav")).unwrap();
    assert_eq!(&bytes[40..44], &0x7fff_f000u32.to_le_bytes());
    let out = decode_wav_bytes(&bytes).unwrap();
    let expected = (bytes.len() - 44) as f64 / 2.0 / 22_050.0;
    assert!(
        (secs(&out) - expected).abs() < 0.02,
        "{} vs {expected}",
        secs(&out)
    );
    assert!(rms_dbfs(&out) > -40.0, "speech expected");
}

#[test]
fn truncated_file_is_reported_as_truncated() {
    // truncated_half.wav is the first half of short_16k.wav (44-byte header).
    let full_data = std::fs::metadata(fixture("short_16k.wav")).unwrap().len() - 44;
    let err = read_wav(&fixture("truncated_half.wav")).unwrap_err();
    assert_eq!(err.code(), "audio_truncated");
    match &err {
        AudioError::Truncated {
            declared,
            available,
        } => {
            assert_eq!(*declared, full_data);
            assert!(*available < declared / 2 + 100, "{available}");
        }
        other => panic!("expected Truncated, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("truncated") && msg.contains(&full_data.to_string()),
        "{msg}"
    );
}

#[test]
fn lying_header_does_not_allocate_or_pass() {
    // Data size of ~1.8 GB (not a streaming placeholder) on a tiny file.
    let mut bytes = synth_wav(16_000, 1, 16, false);
    bytes[40..44].copy_from_slice(&0x7000_0000u32.to_le_bytes());
    let err = decode_wav_bytes(&bytes).unwrap_err();
    assert_eq!(err.code(), "audio_truncated", "{err}");
}

#[test]
fn oversized_file_is_rejected_before_reading() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.wav");
    let f = std::fs::File::create(&path).unwrap();
    // Sparse: takes no disk space, but its length is over the limit.
    f.set_len(switchboard::audio::wav::MAX_WAV_FILE_BYTES + 1)
        .unwrap();
    let err = read_wav(&path).unwrap_err();
    assert_eq!(err.code(), "audio_too_large", "{err}");
}

#[test]
fn garbage_is_named() {
    let err = read_wav(&fixture("garbage.wav")).unwrap_err();
    assert_eq!(err.code(), "audio_not_wav");
    let msg = err.to_string();
    assert!(msg.contains("RIFF") && msg.contains("\"This\""), "{msg}");
}

#[test]
fn compressed_encoding_is_named() {
    let err = read_wav(&fixture("short_8k_adpcm.wav")).unwrap_err();
    assert_eq!(err.code(), "audio_unsupported_encoding");
    let msg = err.to_string();
    assert!(msg.contains("IMA ADPCM") && msg.contains("0x0011"), "{msg}");
}

#[test]
fn zero_channels_and_rate_are_rejected() {
    let mut bytes = synth_wav(16_000, 1, 16, false);
    bytes[22..24].copy_from_slice(&0u16.to_le_bytes());
    let err = decode_wav_bytes(&bytes).unwrap_err();
    assert!(err.to_string().contains("zero channels"), "{err}");

    let mut bytes = synth_wav(16_000, 1, 16, false);
    bytes[24..28].copy_from_slice(&0u32.to_le_bytes());
    let err = decode_wav_bytes(&bytes).unwrap_err();
    assert!(err.to_string().contains("0 Hz"), "{err}");
}

#[test]
fn empty_audio_is_rejected() {
    let bytes = synth_wav(16_000, 1, 16, false);
    let mut header_only = bytes[..44].to_vec();
    header_only[40..44].copy_from_slice(&0u32.to_le_bytes());
    let err = decode_wav_bytes(&header_only).unwrap_err();
    assert_eq!(err.code(), "audio_empty", "{err}");
}

#[test]
fn missing_file_error_names_the_path() {
    let path = Path::new("/definitely/not/here/call-42.wav");
    let err = read_wav(path).unwrap_err();
    assert_eq!(err.code(), "audio_io");
    assert!(
        err.to_string().contains("/definitely/not/here/call-42.wav"),
        "{err}"
    );

    let dir = tempfile::tempdir().unwrap();
    let err = read_wav(dir.path()).unwrap_err();
    assert!(err.to_string().contains("directory"), "{err}");
}

#[test]
fn write_then_read_round_trips_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.wav");
    let samples: Vec<i16> = (0..16_000)
        .map(|i: i32| ((i * 37) % 65_536 - 32_768) as i16)
        .collect();
    write_wav(&path, &samples).unwrap();
    assert_eq!(read_wav(&path).unwrap(), samples);

    let spec = hound::WavReader::open(&path).unwrap().spec();
    assert_eq!(
        (spec.channels, spec.sample_rate, spec.bits_per_sample),
        (1, 16_000, 16)
    );

    let err = write_wav(&dir.path().join("no/such/dir/x.wav"), &samples).unwrap_err();
    assert!(err.to_string().contains("no/such/dir/x.wav"), "{err}");
}
