//! WAV in/out.
//!
//! Decoding is done by hand rather than with `hound` so that every failure can
//! be named precisely (truncated vs. not-a-WAV vs. unsupported codec) and so
//! that streaming writers' placeholder sizes can be told apart from truncation.
//! Writing uses `hound`, whose output we fully control.

use std::path::Path;

use super::SAMPLE_RATE;

/// Largest WAV file `read_wav` will load. An hour of 48 kHz stereo 32-bit float
/// is ~1.4 GB, far beyond any call recording we expect; rejecting early avoids
/// pulling a multi-gigabyte file into memory by mistake.
pub const MAX_WAV_FILE_BYTES: u64 = 1 << 30;

/// Sample rates outside this range are almost certainly a corrupt header, and
/// extreme ratios would make the resampler allocate huge FFT plans.
const MIN_RATE: u32 = 1_000;
const MAX_RATE: u32 = 768_000;
/// More channels than this is not a real recording; it also bounds the
/// per-frame downmix work and block size.
const MAX_CHANNELS: u16 = 64;

/// Data-chunk sizes that streaming writers put in the header when they cannot
/// seek back to patch it (espeak-ng --stdout writes 0x7ffff000, ffmpeg/sox to a
/// pipe write 0xffffffff, some write 0). They mean "read to end of file".
fn is_streaming_placeholder(declared: u32) -> bool {
    declared == 0 || declared >= 0x7fff_0000
}

#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    #[error("cannot read {path}: {reason}")]
    Io { path: String, reason: String },
    #[error("not a valid WAV file: {0}")]
    Corrupt(String),
    #[error("not a WAV file: {0}")]
    NotWav(String),
    #[error(
        "truncated WAV file: header declares {declared} bytes of audio data but only {available} bytes are present"
    )]
    Truncated { declared: u64, available: u64 },
    #[error("unsupported WAV encoding: {name} (format tag 0x{tag:04x}); convert it to PCM first")]
    UnsupportedEncoding { tag: u16, name: String },
    #[error("unsupported WAV format: {0}")]
    UnsupportedFormat(String),
    #[error("WAV file contains no audio samples")]
    Empty,
    #[error("WAV file is too large: {bytes} bytes (limit {limit})")]
    TooLarge { bytes: u64, limit: u64 },
    #[error("resampling from {from} Hz to {to} Hz failed: {reason}")]
    Resample { from: u32, to: u32, reason: String },
    #[error("cannot write {path}: {reason}")]
    Write { path: String, reason: String },
}

impl AudioError {
    pub fn code(&self) -> &'static str {
        match self {
            AudioError::Io { .. } => "audio_io",
            AudioError::Corrupt(_) => "audio_corrupt",
            AudioError::NotWav(_) => "audio_not_wav",
            AudioError::Truncated { .. } => "audio_truncated",
            AudioError::UnsupportedEncoding { .. } => "audio_unsupported_encoding",
            AudioError::UnsupportedFormat(_) => "audio_unsupported_format",
            AudioError::Empty => "audio_empty",
            AudioError::TooLarge { .. } => "audio_too_large",
            AudioError::Resample { .. } => "audio_resample",
            AudioError::Write { .. } => "audio_write",
        }
    }
}

/// How samples are stored in the data chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    /// Unsigned 8-bit or signed little-endian 16/24/32-bit integers.
    Pcm,
    /// IEEE float, 32 or 64 bits.
    Float,
    /// G.711 µ-law, 8 bits: the usual telephony encoding, trivial to expand.
    MuLaw,
    /// G.711 A-law, 8 bits.
    ALaw,
}

#[derive(Debug, Clone, Copy)]
struct WavFormat {
    encoding: Encoding,
    channels: u16,
    sample_rate: u32,
    /// Container size of one sample, in bytes.
    bytes_per_sample: usize,
}

const WAVE_FORMAT_PCM: u16 = 0x0001;
const WAVE_FORMAT_IEEE_FLOAT: u16 = 0x0003;
const WAVE_FORMAT_ALAW: u16 = 0x0006;
const WAVE_FORMAT_MULAW: u16 = 0x0007;
const WAVE_FORMAT_EXTENSIBLE: u16 = 0xfffe;
/// Bytes 2..16 shared by every KSDATAFORMAT_SUBTYPE_* GUID derived from a
/// classic format tag (xxxxxxxx-0000-0010-8000-00aa00389b71).
const KSDATAFORMAT_GUID_TAIL: [u8; 14] = [
    0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71,
];

fn format_tag_name(tag: u16) -> &'static str {
    match tag {
        0x0002 => "Microsoft ADPCM",
        0x0006 => "G.711 A-law",
        0x0007 => "G.711 mu-law",
        0x0011 => "IMA ADPCM",
        0x0016 => "ITU G.723 ADPCM",
        0x0031 => "GSM 6.10",
        0x0040 => "G.721 ADPCM",
        0x0050 => "MPEG audio",
        0x0055 => "MPEG Layer 3 (MP3)",
        0x0064 => "G.726 ADPCM",
        0x00ff | 0x1600 | 0x1601 | 0x1602 => "AAC",
        0x0161..=0x0163 => "Windows Media Audio",
        0x2000 => "Dolby AC-3",
        0x674f..=0x6771 => "Ogg Vorbis",
        0xf1ac => "FLAC",
        _ => "unknown codec",
    }
}

fn le_u16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn le_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Describes the first bytes of a non-WAV input so the error says what it
/// actually is instead of a bare "invalid header".
fn describe_magic(bytes: &[u8]) -> String {
    let head = &bytes[..bytes.len().min(4)];
    let known = match head {
        b"RIFX" => Some("big-endian RIFX WAV, which is not supported"),
        b"RF64" | b"BW64" => Some("RF64/BW64 (64-bit WAV), which is not supported"),
        b"fLaC" => Some("a FLAC file"),
        b"OggS" => Some("an Ogg container"),
        b"ID3\x03" | b"ID3\x04" | b"ID3\x02" => Some("an MP3 file"),
        b"FORM" => Some("an AIFF file"),
        b".snd" => Some("a Sun/NeXT .au file"),
        _ => None,
    };
    if let Some(k) = known {
        return format!("file is {k}");
    }
    let printable: String = head
        .iter()
        .map(|&c| {
            if c.is_ascii_graphic() || c == b' ' {
                c as char
            } else {
                '.'
            }
        })
        .collect();
    let hex: Vec<String> = head.iter().map(|c| format!("{c:02x}")).collect();
    format!(
        "expected a RIFF/WAVE header, found bytes [{}] (\"{}\")",
        hex.join(" "),
        printable
    )
}

fn parse_fmt(chunk: &[u8]) -> Result<WavFormat, AudioError> {
    let short = || AudioError::Corrupt(format!("fmt chunk is only {} bytes", chunk.len()));
    let tag = le_u16(chunk, 0).ok_or_else(short)?;
    let channels = le_u16(chunk, 2).ok_or_else(short)?;
    let sample_rate = le_u32(chunk, 4).ok_or_else(short)?;
    let block_align = le_u16(chunk, 12).ok_or_else(short)?;
    let bits = le_u16(chunk, 14).ok_or_else(short)?;

    let effective_tag = if tag == WAVE_FORMAT_EXTENSIBLE {
        // cbSize(2) validBits(2) channelMask(4) then the 16-byte SubFormat GUID.
        let guid = chunk.get(24..40).ok_or_else(|| {
            AudioError::Corrupt("WAVE_FORMAT_EXTENSIBLE fmt chunk is missing its SubFormat".into())
        })?;
        if guid[2..16] != KSDATAFORMAT_GUID_TAIL {
            return Err(AudioError::UnsupportedEncoding {
                tag,
                name: "WAVE_FORMAT_EXTENSIBLE with a non-standard SubFormat GUID".into(),
            });
        }
        u16::from_le_bytes([guid[0], guid[1]])
    } else {
        tag
    };

    let encoding = match effective_tag {
        WAVE_FORMAT_PCM => Encoding::Pcm,
        WAVE_FORMAT_IEEE_FLOAT => Encoding::Float,
        WAVE_FORMAT_MULAW => Encoding::MuLaw,
        WAVE_FORMAT_ALAW => Encoding::ALaw,
        other => {
            return Err(AudioError::UnsupportedEncoding {
                tag: other,
                name: format_tag_name(other).into(),
            })
        }
    };

    if channels == 0 {
        return Err(AudioError::Corrupt("header declares zero channels".into()));
    }
    if sample_rate == 0 {
        return Err(AudioError::Corrupt(
            "header declares a sample rate of 0 Hz".into(),
        ));
    }
    if channels > MAX_CHANNELS {
        return Err(AudioError::UnsupportedFormat(format!(
            "{channels} channels (at most {MAX_CHANNELS} supported)"
        )));
    }
    if !(MIN_RATE..=MAX_RATE).contains(&sample_rate) {
        return Err(AudioError::UnsupportedFormat(format!(
            "sample rate {sample_rate} Hz (supported: {MIN_RATE}..={MAX_RATE} Hz)"
        )));
    }

    let valid_bits = matches!(
        (encoding, bits),
        (Encoding::Pcm, 8 | 16 | 24 | 32)
            | (Encoding::Float, 32 | 64)
            | (Encoding::MuLaw | Encoding::ALaw, 8)
    );
    if !valid_bits {
        let kind = match encoding {
            Encoding::Pcm => "integer PCM",
            Encoding::Float => "float PCM",
            Encoding::MuLaw => "mu-law",
            Encoding::ALaw => "A-law",
        };
        return Err(AudioError::UnsupportedFormat(format!(
            "{bits}-bit {kind} samples"
        )));
    }
    let bytes_per_sample = usize::from(bits / 8);
    let expected_align = bytes_per_sample * usize::from(channels);
    if usize::from(block_align) != expected_align {
        return Err(AudioError::Corrupt(format!(
            "block align is {block_align} but {channels} channel(s) of {bits}-bit samples need {expected_align}"
        )));
    }

    Ok(WavFormat {
        encoding,
        channels,
        sample_rate,
        bytes_per_sample,
    })
}

/// Locates the fmt and data chunks. Returns the format and the data bytes that
/// are actually present (which, for streaming placeholders, is "to end of file").
fn parse_container(bytes: &[u8]) -> Result<(WavFormat, &[u8]), AudioError> {
    if bytes.is_empty() {
        return Err(AudioError::NotWav("input is empty (0 bytes)".into()));
    }
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        if bytes.len() >= 4 && &bytes[0..4] == b"RIFF" && bytes.len() < 12 {
            return Err(AudioError::Truncated {
                declared: 12,
                available: bytes.len() as u64,
            });
        }
        if bytes.len() >= 12 && &bytes[0..4] == b"RIFF" {
            return Err(AudioError::NotWav(format!(
                "RIFF file of form type \"{}\", not WAVE",
                String::from_utf8_lossy(&bytes[8..12])
            )));
        }
        return Err(AudioError::NotWav(describe_magic(bytes)));
    }

    let mut fmt: Option<WavFormat> = None;
    let mut pos = 12usize;
    while pos + 8 <= bytes.len() {
        let id = &bytes[pos..pos + 4];
        // Both reads are in bounds: checked by the loop condition.
        let declared = le_u32(bytes, pos + 4).unwrap_or(0);
        let body_start = pos + 8;
        let available = bytes.len() - body_start;

        if id == b"data" {
            let format = fmt.ok_or_else(|| {
                AudioError::Corrupt("data chunk appears before the fmt chunk".into())
            })?;
            let data = if declared == 0 && available > 0 && !looks_like_chunk(&bytes[body_start..])
            {
                // Zero is also a streaming placeholder; real empty data chunks
                // are followed by another chunk (or nothing).
                &bytes[body_start..]
            } else if declared as usize <= available {
                &bytes[body_start..body_start + declared as usize]
            } else if is_streaming_placeholder(declared) {
                &bytes[body_start..]
            } else {
                return Err(AudioError::Truncated {
                    declared: u64::from(declared),
                    available: available as u64,
                });
            };
            return Ok((format, data));
        }

        if declared as usize > available {
            // A metadata chunk running past EOF before any data chunk means the
            // file was cut short, unless the writer used a placeholder size.
            if is_streaming_placeholder(declared) && id != b"fmt " {
                break;
            }
            return Err(AudioError::Truncated {
                declared: u64::from(declared),
                available: available as u64,
            });
        }
        if id == b"fmt " {
            fmt = Some(parse_fmt(
                &bytes[body_start..body_start + declared as usize],
            )?);
        }
        // Chunks are word-aligned: odd-sized bodies are followed by a pad byte.
        pos = body_start + declared as usize + (declared as usize & 1);
    }

    match fmt {
        None => Err(AudioError::Corrupt(
            "no fmt chunk found (file may be truncated)".into(),
        )),
        Some(_) => Err(AudioError::Corrupt(
            "no data chunk found (file may be truncated)".into(),
        )),
    }
}

/// Whether `b` starts with a plausible RIFF chunk header (four printable ASCII
/// id bytes and a size that fits), as opposed to sample data.
fn looks_like_chunk(b: &[u8]) -> bool {
    match (b.get(0..4), le_u32(b, 4)) {
        (Some(id), Some(size)) => {
            id.iter().all(|c| c.is_ascii_alphanumeric() || *c == b' ')
                && size as usize <= b.len() - 8
        }
        _ => false,
    }
}

/// Expands one G.711 µ-law byte to linear 16-bit.
fn mulaw_to_i16(byte: u8) -> i16 {
    let u = !byte;
    let sign = u & 0x80;
    let exponent = (u >> 4) & 0x07;
    let mantissa = u & 0x0f;
    let magnitude = ((i32::from(mantissa) << 3) + 0x84) << exponent;
    let value = magnitude - 0x84;
    (if sign != 0 { -value } else { value }) as i16
}

/// Expands one G.711 A-law byte to linear 16-bit.
fn alaw_to_i16(byte: u8) -> i16 {
    let a = byte ^ 0x55;
    let sign = a & 0x80;
    let exponent = (a >> 4) & 0x07;
    let mantissa = i32::from(a & 0x0f);
    let magnitude = if exponent == 0 {
        (mantissa << 4) + 8
    } else {
        ((mantissa << 4) + 0x108) << (exponent - 1)
    };
    // A-law's sign bit is set for positive values.
    (if sign != 0 { magnitude } else { -magnitude }) as i16
}

/// Decodes one sample to f32 in [-1, 1].
#[inline]
fn sample_to_f32(encoding: Encoding, s: &[u8]) -> f32 {
    match (encoding, s.len()) {
        (Encoding::Pcm, 1) => (f32::from(s[0]) - 128.0) / 128.0,
        (Encoding::Pcm, 2) => f32::from(i16::from_le_bytes([s[0], s[1]])) / 32768.0,
        (Encoding::Pcm, 3) => {
            // Shift into the top of an i32 so the sign extends correctly.
            let v = i32::from_le_bytes([0, s[0], s[1], s[2]]) >> 8;
            v as f32 / 8_388_608.0
        }
        (Encoding::Pcm, 4) => i32::from_le_bytes([s[0], s[1], s[2], s[3]]) as f32 / 2_147_483_648.0,
        (Encoding::Float, 4) => sanitize(f32::from_le_bytes([s[0], s[1], s[2], s[3]])),
        (Encoding::Float, 8) => {
            let mut b = [0u8; 8];
            b.copy_from_slice(s);
            sanitize(f64::from_le_bytes(b) as f32)
        }
        (Encoding::MuLaw, 1) => f32::from(mulaw_to_i16(s[0])) / 32768.0,
        (Encoding::ALaw, 1) => f32::from(alaw_to_i16(s[0])) / 32768.0,
        // parse_fmt only admits the combinations above.
        _ => 0.0,
    }
}

/// Float files can legally hold NaN/inf or values beyond full scale; neither
/// should reach the resampler or wrap when converted back to i16.
#[inline]
fn sanitize(x: f32) -> f32 {
    if x.is_finite() {
        x.clamp(-1.0, 1.0)
    } else {
        0.0
    }
}

/// Converts [-1, 1] floats to i16 with rounding and saturation.
pub(crate) fn f32_to_i16(x: f32) -> i16 {
    (x * 32768.0).round().clamp(-32768.0, 32767.0) as i16
}

/// Decodes a WAV file of any common rate/width/channel count to 16 kHz mono i16.
///
/// Supported: integer PCM 8/16/24/32-bit, IEEE float 32/64-bit, G.711 µ-law and
/// A-law, plain or WAVE_FORMAT_EXTENSIBLE headers, any channel count (averaged
/// to mono) and any rate from 1 kHz to 768 kHz (resampled to 16 kHz).
pub fn decode_wav_bytes(bytes: &[u8]) -> Result<Vec<i16>, AudioError> {
    let (format, data) = parse_container(bytes)?;
    let channels = usize::from(format.channels);
    let block = format.bytes_per_sample * channels;
    // A trailing partial frame is what a writer killed mid-sample leaves; it
    // carries no usable audio, so it is dropped rather than rejected.
    let n_frames = data.len() / block;
    if n_frames == 0 {
        return Err(AudioError::Empty);
    }
    let data = &data[..n_frames * block];

    if format.sample_rate == SAMPLE_RATE
        && channels == 1
        && format.encoding == Encoding::Pcm
        && format.bytes_per_sample == 2
    {
        // Common case (our own files, most fixtures): no float round trip.
        return Ok(data
            .chunks_exact(2)
            .map(|s| i16::from_le_bytes([s[0], s[1]]))
            .collect());
    }

    let inv_channels = 1.0 / channels as f32;
    let mono: Vec<f32> = data
        .chunks_exact(block)
        .map(|frame| {
            let sum: f32 = frame
                .chunks_exact(format.bytes_per_sample)
                .map(|s| sample_to_f32(format.encoding, s))
                .sum();
            sum * inv_channels
        })
        .collect();

    let resampled = if format.sample_rate == SAMPLE_RATE {
        mono
    } else {
        super::resample::resample(&mono, format.sample_rate, SAMPLE_RATE)?
    };
    if resampled.is_empty() {
        return Err(AudioError::Empty);
    }
    Ok(resampled.into_iter().map(f32_to_i16).collect())
}

/// Reads a WAV file of any common format as 16 kHz mono i16.
pub fn read_wav(path: &Path) -> Result<Vec<i16>, AudioError> {
    let io_err = |e: std::io::Error| AudioError::Io {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    let meta = std::fs::metadata(path).map_err(io_err)?;
    if meta.is_dir() {
        return Err(AudioError::Io {
            path: path.display().to_string(),
            reason: "is a directory".into(),
        });
    }
    if meta.len() > MAX_WAV_FILE_BYTES {
        return Err(AudioError::TooLarge {
            bytes: meta.len(),
            limit: MAX_WAV_FILE_BYTES,
        });
    }
    let bytes = std::fs::read(path).map_err(io_err)?;
    decode_wav_bytes(&bytes)
}

/// 16 kHz mono 16-bit PCM as the bytes of a WAV file (uploads, the console's
/// player).
pub fn wav_bytes(samples: impl ExactSizeIterator<Item = i16>) -> Vec<u8> {
    let data_len = (samples.len() * 2) as u32;
    let mut out = Vec::with_capacity(44 + samples.len() * 2);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&SAMPLE_RATE.to_le_bytes());
    out.extend_from_slice(&(SAMPLE_RATE * 2).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        out.extend_from_slice(&s.to_le_bytes());
    }
    out
}

/// Writes 16 kHz mono i16 samples as a WAV file.
pub fn write_wav(path: &Path, samples: &[i16]) -> Result<(), AudioError> {
    let err = |e: hound::Error| AudioError::Write {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: SAMPLE_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::create(path, spec).map_err(err)?;
    {
        // The i16 writer skips hound's per-sample format dispatch.
        let mut w = writer.get_i16_writer(samples.len() as u32);
        for &s in samples {
            w.write_sample(s);
        }
        w.flush().map_err(err)?;
    }
    writer.finalize().map_err(err)
}

/// Decodes to 16 kHz mono f32 in [-1, 1]; convenience for callers that feed
/// float models directly.
pub fn decode_wav_bytes_f32(bytes: &[u8]) -> Result<Vec<f32>, AudioError> {
    Ok(decode_wav_bytes(bytes)?
        .into_iter()
        .map(|s| f32::from(s) / 32768.0)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a canonical 44-byte-header WAV around raw sample bytes.
    fn wav(tag: u16, channels: u16, rate: u32, bits: u16, data: &[u8]) -> Vec<u8> {
        let align = channels * bits / 8;
        let mut v = Vec::new();
        v.extend_from_slice(b"RIFF");
        v.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
        v.extend_from_slice(b"WAVEfmt ");
        v.extend_from_slice(&16u32.to_le_bytes());
        v.extend_from_slice(&tag.to_le_bytes());
        v.extend_from_slice(&channels.to_le_bytes());
        v.extend_from_slice(&rate.to_le_bytes());
        v.extend_from_slice(&(rate * u32::from(align)).to_le_bytes());
        v.extend_from_slice(&align.to_le_bytes());
        v.extend_from_slice(&bits.to_le_bytes());
        v.extend_from_slice(b"data");
        v.extend_from_slice(&(data.len() as u32).to_le_bytes());
        v.extend_from_slice(data);
        v
    }

    fn set_data_size(v: &mut [u8], size: u32) {
        v[40..44].copy_from_slice(&size.to_le_bytes());
    }

    #[test]
    fn g711_tables_match_reference_points() {
        assert_eq!(mulaw_to_i16(0xff), 0);
        assert_eq!(mulaw_to_i16(0x7f), 0);
        assert_eq!(mulaw_to_i16(0x00), -32124);
        assert_eq!(mulaw_to_i16(0x80), 32124);
        assert_eq!(alaw_to_i16(0xd5), 8);
        assert_eq!(alaw_to_i16(0x55), -8);
        assert_eq!(alaw_to_i16(0xaa), 32256);
        assert_eq!(alaw_to_i16(0x2a), -32256);
    }

    #[test]
    fn decodes_16k_pcm16_exactly() {
        let data: Vec<u8> = [1i16, -2, 300, i16::MIN]
            .iter()
            .flat_map(|s| s.to_le_bytes())
            .collect();
        let out = decode_wav_bytes(&wav(1, 1, 16_000, 16, &data)).unwrap();
        assert_eq!(out, vec![1, -2, 300, i16::MIN]);
    }

    #[test]
    fn decodes_24_bit_sign_extension() {
        // -1.0 and +0.5 at 24 bits
        let data = [0x00, 0x00, 0x80, 0x00, 0x00, 0x40];
        let out = decode_wav_bytes(&wav(1, 1, 16_000, 24, &data)).unwrap();
        assert_eq!(out, vec![-32768, 16384]);
    }

    #[test]
    fn streaming_placeholders_read_to_end() {
        let data: Vec<u8> = (0..100i16).flat_map(|s| s.to_le_bytes()).collect();
        for placeholder in [0u32, 0xffff_ffff, 0x7fff_f000] {
            let mut v = wav(1, 1, 16_000, 16, &data);
            set_data_size(&mut v, placeholder);
            assert_eq!(decode_wav_bytes(&v).unwrap().len(), 100, "{placeholder:#x}");
        }
    }

    #[test]
    fn oversized_normal_header_is_truncation() {
        let data: Vec<u8> = (0..100i16).flat_map(|s| s.to_le_bytes()).collect();
        let mut v = wav(1, 1, 16_000, 16, &data);
        set_data_size(&mut v, 400);
        match decode_wav_bytes(&v) {
            Err(AudioError::Truncated {
                declared: 400,
                available: 200,
            }) => {}
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn header_field_errors_are_specific() {
        let data = [0u8; 8];
        let zero_ch = {
            let mut v = wav(1, 1, 16_000, 16, &data);
            v[22..24].copy_from_slice(&0u16.to_le_bytes());
            v
        };
        let e = decode_wav_bytes(&zero_ch).unwrap_err().to_string();
        assert!(e.contains("zero channels"), "{e}");

        let zero_rate = {
            let mut v = wav(1, 1, 16_000, 16, &data);
            v[24..28].copy_from_slice(&0u32.to_le_bytes());
            v
        };
        let e = decode_wav_bytes(&zero_rate).unwrap_err().to_string();
        assert!(e.contains("0 Hz"), "{e}");

        let adpcm = wav(0x0002, 1, 8_000, 4, &data);
        let e = decode_wav_bytes(&adpcm).unwrap_err();
        assert_eq!(e.code(), "audio_unsupported_encoding");
        assert!(e.to_string().contains("Microsoft ADPCM"), "{e}");

        let e = decode_wav_bytes(&wav(1, 1, 16_000, 12, &data)).unwrap_err();
        assert!(e.to_string().contains("12-bit"), "{e}");

        let e = decode_wav_bytes(&wav(1, 1, 16_000, 16, &[])).unwrap_err();
        assert!(matches!(e, AudioError::Empty), "{e}");
    }

    #[test]
    fn non_wav_inputs_are_named() {
        let e = decode_wav_bytes(b"").unwrap_err().to_string();
        assert!(e.contains("empty"), "{e}");
        let e = decode_wav_bytes(b"fLaC\0\0\0\x22rest")
            .unwrap_err()
            .to_string();
        assert!(e.contains("FLAC"), "{e}");
        let e = decode_wav_bytes(b"RIFF\x10\0\0\0AVI LIST")
            .unwrap_err()
            .to_string();
        assert!(e.contains("AVI"), "{e}");
        let e = decode_wav_bytes(&[0xde, 0xad, 0xbe, 0xef, 1, 2])
            .unwrap_err()
            .to_string();
        assert!(e.contains("de ad be ef"), "{e}");
    }

    #[test]
    fn every_prefix_of_a_valid_file_errors_without_panicking() {
        let data: Vec<u8> = (0..64i16).flat_map(|s| (s * 100).to_le_bytes()).collect();
        let full = wav(3, 2, 44_100, 32, &data);
        for n in 0..full.len() {
            let _ = decode_wav_bytes(&full[..n]);
        }
    }
}
