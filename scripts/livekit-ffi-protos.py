#!/usr/bin/env python3
"""The message schema of liblivekit_ffi, taken from the `livekit` wheel that ships
the library: each `livekit/rtc/_proto/*_pb2.py` embeds its .proto file as a
serialized FileDescriptorProto (`AddSerializedFile(b'...')`). This joins them into
one FileDescriptorSet, which build.rs compiles into Rust types with prost-build
(`compile_fds`, no protoc).

  livekit-ffi-protos.py PROTO_DIR OUT.fds    write the set
  livekit-ffi-protos.py PROTO_DIR --check F  exit 1 unless F is exactly that set

PROTO_DIR: the wheel's livekit/rtc/_proto, or the `proto/` folder that
`switchboard models fetch --only livekit-ffi` installs. Standard library only.
"""

import ast
import glob
import os
import re
import sys


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def descriptor_set(proto_dir):
    files = sorted(glob.glob(os.path.join(proto_dir, "*_pb2.py")))
    if not files:
        sys.exit("livekit-ffi-protos: no *_pb2.py in %s" % proto_dir)
    out = bytearray()
    for path in files:
        with open(path, encoding="utf-8") as f:
            src = f.read()
        m = re.search(r"AddSerializedFile\((b'(?:[^'\\]|\\.)*')\)", src, re.S)
        if not m:
            sys.exit("livekit-ffi-protos: no serialized descriptor in %s" % path)
        blob = ast.literal_eval(m.group(1))
        # FileDescriptorSet { repeated FileDescriptorProto file = 1; }
        out += b"\x0a" + varint(len(blob)) + blob
    return bytes(out)


def main():
    if len(sys.argv) == 4 and sys.argv[2] == "--check":
        want = descriptor_set(sys.argv[1])
        with open(sys.argv[3], "rb") as f:
            have = f.read()
        if have != want:
            sys.exit("livekit-ffi-protos: %s differs from the descriptors in %s" % (sys.argv[3], sys.argv[1]))
        return
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    with open(sys.argv[2], "wb") as f:
        f.write(descriptor_set(sys.argv[1]))


if __name__ == "__main__":
    main()
