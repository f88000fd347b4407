//! CTranslate2 Whisper → ggml, the file format whisper.cpp loads.
//!
//! The registry packages ship Whisper as a CTranslate2 `model.bin` (fp16). Both
//! formats hold the same tensors; CTranslate2 fuses the attention projections
//! (query/key/value of self-attention, key/value of cross-attention) and names
//! things its own way, and the ggml file also carries the mel filter bank and the
//! tokenizer, which come from the `openai-whisper` source distribution
//! (`whisper/assets/mel_filters.npz`, `*.tiktoken`).
//!
//! The layout written here is the one of whisper.cpp's `convert-pt-to-ggml.py`:
//! magic, 11 hyper-parameters, the mel filters (`n_mel`, `n_fft`, f32 data), the
//! vocabulary (count, then length-prefixed bytes), then each tensor as
//! `n_dims, name_len, ftype, dims (innermost first), name, data`. Matrices stay
//! fp16; vectors, the conv biases (as `[n, 1]`) and the positional embeddings are
//! widened to f32, because that is what whisper.cpp's loader expects. The output
//! has exactly the size of the upstream `ggml-base.bin` / `ggml-tiny.en.bin`.

use std::collections::HashMap;
use std::io::{Read, Write};

use base64::Engine;

const GGML_MAGIC: u32 = 0x6767_6d6c;
/// CTranslate2 data type ids (`ctranslate2::DataType`).
const CT2_FLOAT16: u8 = 4;
const CT2_INT16: u8 = 2;

#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error("not a CTranslate2 Whisper model: {0}")]
    BadModel(String),
    #[error("bad mel filter bank (mel_filters.npz): {0}")]
    BadFilters(String),
    #[error("bad tokenizer file (*.tiktoken): {0}")]
    BadVocab(String),
    #[error("cannot write the converted model: {0}")]
    Write(#[from] std::io::Error),
}

/// What was converted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GgmlSummary {
    pub n_vocab: u32,
    pub n_audio_layer: u32,
    pub n_text_layer: u32,
    pub n_state: u32,
    pub multilingual: bool,
    pub tensors: usize,
    pub bytes: u64,
}

struct Var<'a> {
    shape: Vec<usize>,
    dtype: u8,
    data: &'a [u8],
}

/// The variables of a CTranslate2 `model.bin`, borrowed from its bytes.
struct Ct2Model<'a> {
    vars: HashMap<String, Var<'a>>,
}

struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ConvertError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| {
                ConvertError::BadModel(format!(
                    "truncated at byte {} of {}",
                    self.pos,
                    self.buf.len()
                ))
            })?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, ConvertError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, ConvertError> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, ConvertError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    /// A length-prefixed, NUL-terminated string.
    fn string(&mut self) -> Result<String, ConvertError> {
        let n = self.u16()? as usize;
        let b = self.take(n)?;
        let b = b.strip_suffix(&[0]).unwrap_or(b);
        String::from_utf8(b.to_vec())
            .map_err(|_| ConvertError::BadModel("a name is not UTF-8".into()))
    }
}

impl<'a> Ct2Model<'a> {
    fn parse(buf: &'a [u8]) -> Result<Self, ConvertError> {
        let mut c = Cursor { buf, pos: 0 };
        let version = c.u32()?;
        if !(5..=6).contains(&version) {
            return Err(ConvertError::BadModel(format!(
                "binary version {version} (expected 5 or 6)"
            )));
        }
        let spec = c.string()?;
        if spec != "WhisperSpec" {
            return Err(ConvertError::BadModel(format!(
                "model spec {spec:?}, not WhisperSpec"
            )));
        }
        let _revision = c.u32()?;
        let n = c.u32()? as usize;
        let mut vars = HashMap::with_capacity(n);
        for _ in 0..n {
            let name = c.string()?;
            let rank = c.u8()? as usize;
            let mut shape = Vec::with_capacity(rank);
            for _ in 0..rank {
                shape.push(c.u32()? as usize);
            }
            let dtype = c.u8()?;
            let nbytes = c.u32()? as usize;
            let data = c.take(nbytes)?;
            vars.insert(name, Var { shape, dtype, data });
        }
        Ok(Self { vars })
    }

    fn get(&self, name: &str) -> Result<&Var<'a>, ConvertError> {
        self.vars
            .get(name)
            .ok_or_else(|| ConvertError::BadModel(format!("missing variable {name}")))
    }

    fn heads(&self, name: &str) -> Result<u32, ConvertError> {
        let v = self.get(name)?;
        if v.dtype != CT2_INT16 || v.data.len() != 2 {
            return Err(ConvertError::BadModel(format!(
                "{name} is not an int16 scalar"
            )));
        }
        Ok(i16::from_le_bytes([v.data[0], v.data[1]]) as u32)
    }

    fn layers(&self, side: &str) -> u32 {
        let mut n = 0;
        while self
            .vars
            .contains_key(&format!("{side}/layer_{n}/ffn/linear_0/weight"))
        {
            n += 1;
        }
        n
    }
}

struct Counting<'w> {
    inner: &'w mut dyn Write,
    bytes: u64,
}

impl Write for Counting<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// A tensor to write: a name, the shape outermost-first, fp16 bytes.
struct Tensor<'a> {
    name: String,
    shape: Vec<usize>,
    data: &'a [u8],
}

impl Tensor<'_> {
    /// whisper.cpp keeps these in f32 (see the module comment).
    fn wants_f32(&self) -> bool {
        self.shape.len() < 2
            || self.name == "encoder.conv1.bias"
            || self.name == "encoder.conv2.bias"
            || self.name.ends_with("positional_embedding")
    }
}

struct Plan<'m, 'a> {
    model: &'m Ct2Model<'a>,
    tensors: Vec<Tensor<'a>>,
    n_state: usize,
}

impl<'a> Plan<'_, 'a> {
    fn fp16(&self, key: &str) -> Result<&Var<'a>, ConvertError> {
        let v = self.model.get(key)?;
        if v.dtype != CT2_FLOAT16 {
            return Err(ConvertError::BadModel(format!(
                "{key} has CTranslate2 type {} — only float16 models are supported (not quantized ones)",
                v.dtype
            )));
        }
        let elems: usize = v.shape.iter().product();
        if elems * 2 != v.data.len() {
            return Err(ConvertError::BadModel(format!(
                "{key}: size does not match its shape"
            )));
        }
        Ok(v)
    }

    fn add(&mut self, name: String, key: &str) -> Result<(), ConvertError> {
        let v = self.fp16(key)?;
        self.tensors.push(Tensor {
            name,
            shape: v.shape.clone(),
            data: v.data,
        });
        Ok(())
    }

    /// Rows `[from, to)` of a fused projection.
    fn add_rows(
        &mut self,
        name: String,
        key: &str,
        from: usize,
        to: usize,
    ) -> Result<(), ConvertError> {
        let v = self.fp16(key)?;
        let rows = *v.shape.first().unwrap_or(&0);
        if to > rows {
            return Err(ConvertError::BadModel(format!(
                "{key} has {rows} rows, expected at least {to}"
            )));
        }
        let inner: usize = v.shape[1..].iter().product();
        let mut shape = v.shape.clone();
        shape[0] = to - from;
        self.tensors.push(Tensor {
            name,
            shape,
            data: &v.data[from * inner * 2..to * inner * 2],
        });
        Ok(())
    }

    fn layer_norm(&mut self, name: &str, key: &str) -> Result<(), ConvertError> {
        self.add(format!("{name}.weight"), &format!("{key}/gamma"))?;
        self.add(format!("{name}.bias"), &format!("{key}/beta"))
    }

    fn linear(&mut self, name: &str, key: &str) -> Result<(), ConvertError> {
        self.add(format!("{name}.weight"), &format!("{key}/weight"))?;
        self.add(format!("{name}.bias"), &format!("{key}/bias"))
    }

    /// Self-attention: CTranslate2 fuses q|k|v into `linear_0` (k has no bias in
    /// Whisper; its zero bias slice is dropped), `linear_1` is the output.
    fn self_attention(&mut self, name: &str, key: &str) -> Result<(), ConvertError> {
        let n = self.n_state;
        let (w, b) = (
            format!("{key}/linear_0/weight"),
            format!("{key}/linear_0/bias"),
        );
        self.add_rows(format!("{name}.query.weight"), &w, 0, n)?;
        self.add_rows(format!("{name}.query.bias"), &b, 0, n)?;
        self.add_rows(format!("{name}.key.weight"), &w, n, 2 * n)?;
        self.add_rows(format!("{name}.value.weight"), &w, 2 * n, 3 * n)?;
        self.add_rows(format!("{name}.value.bias"), &b, 2 * n, 3 * n)?;
        self.linear(&format!("{name}.out"), &format!("{key}/linear_1"))
    }

    /// Cross-attention: `linear_0` is the query, `linear_1` fuses k|v, `linear_2`
    /// is the output.
    fn cross_attention(&mut self, name: &str, key: &str) -> Result<(), ConvertError> {
        let n = self.n_state;
        self.linear(&format!("{name}.query"), &format!("{key}/linear_0"))?;
        let (w, b) = (
            format!("{key}/linear_1/weight"),
            format!("{key}/linear_1/bias"),
        );
        self.add_rows(format!("{name}.key.weight"), &w, 0, n)?;
        self.add_rows(format!("{name}.value.weight"), &w, n, 2 * n)?;
        self.add_rows(format!("{name}.value.bias"), &b, n, 2 * n)?;
        self.linear(&format!("{name}.out"), &format!("{key}/linear_2"))
    }

    fn block(&mut self, name: &str, key: &str, cross: bool) -> Result<(), ConvertError> {
        self.self_attention(&format!("{name}.attn"), &format!("{key}/self_attention"))?;
        self.layer_norm(
            &format!("{name}.attn_ln"),
            &format!("{key}/self_attention/layer_norm"),
        )?;
        if cross {
            self.cross_attention(&format!("{name}.cross_attn"), &format!("{key}/attention"))?;
            self.layer_norm(
                &format!("{name}.cross_attn_ln"),
                &format!("{key}/attention/layer_norm"),
            )?;
        }
        self.linear(&format!("{name}.mlp.0"), &format!("{key}/ffn/linear_0"))?;
        self.linear(&format!("{name}.mlp.2"), &format!("{key}/ffn/linear_1"))?;
        self.layer_norm(&format!("{name}.mlp_ln"), &format!("{key}/ffn/layer_norm"))
    }
}

/// Reads `mel_{n_mels}.npy` from `mel_filters.npz`: (rows, cols, f32 LE bytes).
fn mel_filters(npz: &[u8], n_mels: usize) -> Result<(u32, u32, Vec<u8>), ConvertError> {
    let bad = |m: String| ConvertError::BadFilters(m);
    let mut zip =
        zip::ZipArchive::new(std::io::Cursor::new(npz)).map_err(|e| bad(e.to_string()))?;
    let member = format!("mel_{n_mels}.npy");
    let mut npy = Vec::new();
    zip.by_name(&member)
        .map_err(|e| bad(format!("{member}: {e}")))?
        .read_to_end(&mut npy)
        .map_err(|e| bad(format!("{member}: {e}")))?;
    if npy.len() < 10 || &npy[..6] != b"\x93NUMPY" {
        return Err(bad(format!("{member} is not a .npy array")));
    }
    let (header_len, start) = match npy[6] {
        1 => (u16::from_le_bytes([npy[8], npy[9]]) as usize, 10),
        2 | 3 if npy.len() >= 12 => (
            u32::from_le_bytes([npy[8], npy[9], npy[10], npy[11]]) as usize,
            12,
        ),
        v => return Err(bad(format!("{member}: .npy version {v}"))),
    };
    let header = npy
        .get(start..start + header_len)
        .and_then(|h| std::str::from_utf8(h).ok())
        .ok_or_else(|| bad(format!("{member}: bad header")))?;
    if !header.contains("'descr': '<f4'") || !header.contains("'fortran_order': False") {
        return Err(bad(format!(
            "{member}: expected little-endian f32 in C order, got {header}"
        )));
    }
    let shape = header
        .split("'shape': (")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .ok_or_else(|| bad(format!("{member}: no shape in {header}")))?;
    let dims: Vec<u32> = shape
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse::<u32>())
        .collect::<Result<_, _>>()
        .map_err(|_| bad(format!("{member}: bad shape ({shape})")))?;
    let [rows, cols] = dims[..] else {
        return Err(bad(format!(
            "{member}: expected 2 dimensions, got ({shape})"
        )));
    };
    let data = npy[start + header_len..].to_vec();
    if data.len() != rows as usize * cols as usize * 4 || rows as usize != n_mels {
        return Err(bad(format!(
            "{member}: {} data bytes for shape ({shape})",
            data.len()
        )));
    }
    Ok((rows, cols, data))
}

/// Token byte strings in rank order from a `.tiktoken` file ("base64 rank" lines).
fn tiktoken(text: &[u8]) -> Result<Vec<Vec<u8>>, ConvertError> {
    let mut out = Vec::with_capacity(51_000);
    for (i, line) in text.split(|&b| b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        let mut parts = line.split(|&b| b == b' ');
        let (Some(tok), Some(rank)) = (parts.next(), parts.next()) else {
            return Err(ConvertError::BadVocab(format!(
                "line {} has no rank",
                i + 1
            )));
        };
        let rank: usize = std::str::from_utf8(rank)
            .ok()
            .and_then(|r| r.trim().parse().ok())
            .ok_or_else(|| ConvertError::BadVocab(format!("line {}: bad rank", i + 1)))?;
        if rank != out.len() {
            return Err(ConvertError::BadVocab(format!(
                "line {}: rank {rank} out of order (expected {})",
                i + 1,
                out.len()
            )));
        }
        // The multilingual file has one empty token, written as a lone "=".
        let tok: &[u8] = {
            let mut t = tok;
            while let Some(rest) = t.strip_suffix(b"=") {
                t = rest;
            }
            t
        };
        let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(tok)
            .map_err(|e| ConvertError::BadVocab(format!("line {}: {e}", i + 1)))?;
        out.push(bytes);
    }
    Ok(out)
}

fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h >> 15) as u32) << 31;
    let exp = ((h >> 10) & 0x1f) as u32;
    let mant = (h & 0x3ff) as u32;
    let bits = match exp {
        0 if mant == 0 => sign,
        0 => {
            // Subnormal: shift the mantissa up until it has its implicit 1.
            let mut e = 127 - 15 + 1;
            let mut m = mant;
            while m & 0x400 == 0 {
                m <<= 1;
                e -= 1;
            }
            sign | (e << 23) | ((m & 0x3ff) << 13)
        }
        0x1f => sign | 0x7f80_0000 | (mant << 13),
        _ => sign | ((exp + 127 - 15) << 23) | (mant << 13),
    };
    f32::from_bits(bits)
}

/// Converts a CTranslate2 Whisper model to ggml. `vocab` is `multilingual.tiktoken`
/// for multilingual models and `gpt2.tiktoken` for the English-only ones.
/// `progress(done, total)` is called as bytes are written.
pub fn convert(
    ct2: &[u8],
    mel_filters_npz: &[u8],
    vocab: &[u8],
    out: &mut dyn Write,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<GgmlSummary, ConvertError> {
    let model = Ct2Model::parse(ct2)?;
    let emb = model.get("decoder/embeddings/weight")?;
    let conv1 = model.get("encoder/conv1/weight")?;
    let enc_pos = model.get("encoder/position_encodings/encodings")?;
    let dec_pos = model.get("decoder/position_encodings/encodings")?;
    let (
        &[n_vocab, n_text_state],
        &[n_audio_state, n_mels, _],
        &[n_audio_ctx, _],
        &[n_text_ctx, _],
    ) = (
        &emb.shape[..],
        &conv1.shape[..],
        &enc_pos.shape[..],
        &dec_pos.shape[..],
    )
    else {
        return Err(ConvertError::BadModel(
            "unexpected embedding or conv shapes".into(),
        ));
    };
    if n_text_state != n_audio_state {
        return Err(ConvertError::BadModel(format!(
            "text width {n_text_state} differs from audio width {n_audio_state}"
        )));
    }
    let n_audio_layer = model.layers("encoder");
    let n_text_layer = model.layers("decoder");
    if n_audio_layer == 0 || n_text_layer == 0 {
        return Err(ConvertError::BadModel("no layers".into()));
    }
    let multilingual = n_vocab >= 51_865;

    let mut plan = Plan {
        model: &model,
        tensors: Vec::new(),
        n_state: n_audio_state,
    };
    plan.add(
        "encoder.positional_embedding".into(),
        "encoder/position_encodings/encodings",
    )?;
    for c in ["conv1", "conv2"] {
        plan.linear(&format!("encoder.{c}"), &format!("encoder/{c}"))?;
    }
    for i in 0..n_audio_layer {
        plan.block(
            &format!("encoder.blocks.{i}"),
            &format!("encoder/layer_{i}"),
            false,
        )?;
    }
    plan.layer_norm("encoder.ln_post", "encoder/layer_norm")?;
    plan.add(
        "decoder.positional_embedding".into(),
        "decoder/position_encodings/encodings",
    )?;
    plan.add(
        "decoder.token_embedding.weight".into(),
        "decoder/embeddings/weight",
    )?;
    for i in 0..n_text_layer {
        plan.block(
            &format!("decoder.blocks.{i}"),
            &format!("decoder/layer_{i}"),
            true,
        )?;
    }
    plan.layer_norm("decoder.ln", "decoder/layer_norm")?;

    let (mel_rows, mel_cols, mel) = mel_filters(mel_filters_npz, n_mels)?;
    let mut tokens = tiktoken(vocab)?;
    let expected = if multilingual { 50_257 } else { 50_256 };
    if tokens.len() != expected {
        return Err(ConvertError::BadVocab(format!(
            "{} tokens, expected {expected} for a {} model",
            tokens.len(),
            if multilingual {
                "multilingual (multilingual.tiktoken)"
            } else {
                "English-only (gpt2.tiktoken)"
            }
        )));
    }
    if !multilingual {
        // The upstream English-only ggml files carry GPT-2's end-of-text token too.
        tokens.push(b"<|endoftext|>".to_vec());
    }

    let tensor_bytes: u64 = plan
        .tensors
        .iter()
        .map(|t| t.data.len() as u64 * if t.wants_f32() { 2 } else { 1 })
        .sum();
    let total = tensor_bytes + mel.len() as u64;
    let mut done = 0u64;
    let mut counted = Counting {
        inner: out,
        bytes: 0,
    };
    let mut w = std::io::BufWriter::with_capacity(1 << 20, &mut counted);
    let put = |w: &mut std::io::BufWriter<&mut Counting<'_>>, v: u32| w.write_all(&v.to_le_bytes());

    put(&mut w, GGML_MAGIC)?;
    let heads_a = model.heads("encoder/num_heads")?;
    let heads_t = model.heads("decoder/num_heads")?;
    for v in [
        n_vocab as u32,
        n_audio_ctx as u32,
        n_audio_state as u32,
        heads_a,
        n_audio_layer,
        n_text_ctx as u32,
        n_text_state as u32,
        heads_t,
        n_text_layer,
        n_mels as u32,
        1, // ftype: fp16 matrices
    ] {
        put(&mut w, v)?;
    }
    put(&mut w, mel_rows)?;
    put(&mut w, mel_cols)?;
    w.write_all(&mel)?;
    done += mel.len() as u64;
    put(&mut w, tokens.len() as u32)?;
    for t in &tokens {
        put(&mut w, t.len() as u32)?;
        w.write_all(t)?;
    }
    let mut f32buf = Vec::new();
    for t in &plan.tensors {
        let f32_out = t.wants_f32();
        let mut dims: Vec<usize> = t.shape.iter().rev().copied().collect();
        if t.name == "encoder.conv1.bias" || t.name == "encoder.conv2.bias" {
            // [n] → [n, 1]; innermost first.
            dims.insert(0, 1);
        }
        put(&mut w, dims.len() as u32)?;
        put(&mut w, t.name.len() as u32)?;
        put(&mut w, if f32_out { 0 } else { 1 })?;
        for d in &dims {
            put(&mut w, *d as u32)?;
        }
        w.write_all(t.name.as_bytes())?;
        if f32_out {
            f32buf.clear();
            f32buf.reserve(t.data.len() * 2);
            for h in t.data.chunks_exact(2) {
                let v = f16_to_f32(u16::from_le_bytes([h[0], h[1]]));
                f32buf.extend_from_slice(&v.to_le_bytes());
            }
            w.write_all(&f32buf)?;
            done += f32buf.len() as u64;
        } else {
            w.write_all(t.data)?;
            done += t.data.len() as u64;
        }
        progress(done, total);
    }
    w.flush()?;
    drop(w);
    Ok(GgmlSummary {
        n_vocab: n_vocab as u32,
        n_audio_layer,
        n_text_layer,
        n_state: n_audio_state as u32,
        multilingual,
        tensors: plan.tensors.len(),
        bytes: counted.bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f16_widening_is_exact() {
        assert_eq!(f16_to_f32(0x0000), 0.0);
        assert_eq!(f16_to_f32(0x8000).to_bits(), (-0.0f32).to_bits());
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x7bff), 65504.0);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24)); // smallest subnormal
        assert_eq!(f16_to_f32(0x03ff), 1023.0 * 2f32.powi(-24)); // largest subnormal
        assert_eq!(f16_to_f32(0x0400), 2f32.powi(-14)); // smallest normal
        assert!(f16_to_f32(0x7c00).is_infinite());
        assert!(f16_to_f32(0x7e00).is_nan());
    }

    #[test]
    fn tiktoken_lines_decode_in_rank_order() {
        let t = tiktoken(b"IQ== 0\nIg== 1\n= 2\n").unwrap();
        assert_eq!(t, vec![b"!".to_vec(), b"\"".to_vec(), Vec::new()]);
        assert!(tiktoken(b"IQ== 1\n").is_err());
    }

    #[test]
    fn garbage_is_not_a_model() {
        let mut out = Vec::new();
        let e = convert(b"not a model", b"", b"", &mut out, &mut |_, _| {}).unwrap_err();
        assert!(matches!(e, ConvertError::BadModel(_)), "{e}");
    }
}
