//! Rust types for the messages liblivekit_ffi speaks, compiled from the protobuf
//! descriptors embedded in the `livekit` wheel that ships the library
//! (src/livekit/ffi/livekit_ffi.fds, made by scripts/livekit-ffi-protos.py).
//! prost-build's `compile_fds`: no protoc.

use prost::Message;

fn main() {
    let path = "src/livekit/ffi/livekit_ffi.fds";
    println!("cargo:rerun-if-changed={path}");
    println!("cargo:rerun-if-changed=build.rs");
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let fds = prost_types::FileDescriptorSet::decode(bytes.as_slice())
        .unwrap_or_else(|e| panic!("{path} is not a FileDescriptorSet: {e}"));
    prost_build::Config::new()
        .compile_fds(fds)
        .unwrap_or_else(|e| panic!("compiling {path}: {e}"));
}
