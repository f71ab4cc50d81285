using System.Buffers.Binary;
using System.Text;

namespace Supervisor.Linux.Shim;

/// <summary>
/// Flattens a <see cref="ShimRequest"/> into the blob described in supervisor_shim.h: a 16-byte header,
/// then records of { u16 tag; u16 reserved; u32 length; payload; zero padding to 8 }. Integers are
/// little-endian, strings are UTF-8 with their NUL counted in the length.
/// </summary>
public static class ShimRequestEncoder
{
    public static byte[] Encode(ShimRequest r)
    {
        ArgumentNullException.ThrowIfNull(r);
        if (r.Args.Count == 0)
            throw new ArgumentException("the request has no args", nameof(r));
        var w = new Writer();

        foreach (var a in r.Args)
            w.Record(ShimTag.Arg, p => p.Str(a));
        foreach (var e in r.Env)
            w.Record(ShimTag.Env, p => p.Str(e));
        w.Record(ShimTag.Cwd, p => p.Str(r.Cwd));
        if (r.Rootfs is not null)
            w.Record(ShimTag.Rootfs, p => p.Str(r.Rootfs));
        if (r.StateDir is not null)
            w.Record(ShimTag.StateDir, p => p.Str(r.StateDir));
        if (r.Hostname is not null)
            w.Record(ShimTag.Hostname, p => p.Str(r.Hostname));
        if (r.Domainname is not null)
            w.Record(ShimTag.Domainname, p => p.Str(r.Domainname));
        w.Record(ShimTag.Flags, p => p.U64((ulong)r.Flags));
        foreach (var ns in r.Namespaces)
            w.Record(ShimTag.Namespace, p =>
            {
                p.U32(checked((uint)ns.CloneFlag));
                p.U32(0);
                p.Str(ns.Path ?? "");
            });
        var user = r.User;
        w.Record(ShimTag.User, p =>
        {
            p.U32(user.Uid);
            p.U32(user.Gid);
            p.U32(user.Umask ?? ShimAbi.UmaskUnset);
            p.U32((uint)user.AdditionalGids.Count);
            foreach (var g in user.AdditionalGids)
                p.U32(g);
        });
        if (r.Caps is { } c)
            w.Record(ShimTag.Caps, p =>
            {
                p.U64(c.Bounding);
                p.U64(c.Effective);
                p.U64(c.Permitted);
                p.U64(c.Inheritable);
                p.U64(c.Ambient);
            });
        foreach (var rl in r.Rlimits)
            w.Record(ShimTag.Rlimit, p =>
            {
                p.U32(rl.Resource);
                p.U32(0);
                p.U64(rl.Soft);
                p.U64(rl.Hard);
            });
        if (r.OomScoreAdj is { } oom)
            w.Record(ShimTag.OomScoreAdj, p => p.U32(unchecked((uint)oom)));
        foreach (var (key, value) in r.Sysctls)
            w.Record(ShimTag.Sysctl, p =>
            {
                p.Str(key);
                p.Str(value);
            });
        foreach (var op in r.RootfsOps)
            EncodeOp(w, op);
        foreach (var m in r.MaskPaths)
            w.Record(ShimTag.MaskPath, p => p.Str(m));
        foreach (var ro in r.ReadonlyPaths)
            w.Record(ShimTag.ReadonlyPath, p => p.Str(ro));
        if (r.RootPropagation != 0)
            w.Record(ShimTag.RootPropagation, p => p.U64(r.RootPropagation));
        if (r.Seccomp is { } sc)
        {
            if (sc.Program.Length == 0 || sc.Program.Length % 8 != 0)
                throw new ArgumentException("a seccomp program is a non-empty array of 8-byte instructions", nameof(r));
            w.Record(ShimTag.Seccomp, p =>
            {
                p.U32(sc.Flags);
                p.U32((uint)(sc.Program.Length / 8));
                p.Bytes(sc.Program);
            });
        }
        if (r.PreserveFds != 0)
            w.Record(ShimTag.PreserveFds, p => p.U32(r.PreserveFds));
        if (r.ParentDeathSignal != 0)
            w.Record(ShimTag.Pdeathsig, p => p.U32((uint)r.ParentDeathSignal));
        if (r.ConsoleSize is { } cs)
            w.Record(ShimTag.ConsoleSize, p =>
            {
                p.U16(cs.Rows);
                p.U16(cs.Cols);
                p.U32(0);
            });

        return w.Finish(r.Mode);
    }

    private static void EncodeOp(Writer w, ShimRootfsOp op)
    {
        switch (op)
        {
            case ShimMount m:
                if (m.Propagation.Count > 4)
                    throw new ArgumentException($"mount {m.Destination}: at most 4 propagation changes", nameof(op));
                w.Record(ShimTag.Mount, p =>
                {
                    p.U32((uint)m.Kind);
                    p.U32(m.DestinationIsFile ? 1u : 0u);
                    p.U64(m.Flags);
                    p.U64(m.ClearFlags);
                    for (int i = 0; i < 4; i++)
                        p.U64(i < m.Propagation.Count ? m.Propagation[i] : 0);
                    p.Str(m.Source);
                    p.Str(m.Destination);
                    p.Str(m.FsType);
                    p.Str(m.Data);
                });
                break;
            case ShimDevice d:
                w.Record(ShimTag.Device, p =>
                {
                    p.U32(d.Mode);
                    p.U32(d.Uid);
                    p.U32(d.Gid);
                    p.U32(0);
                    p.U64(d.Major);
                    p.U64(d.Minor);
                    p.Str(d.Path);
                });
                break;
            case ShimSymlink s:
                w.Record(ShimTag.Symlink, p =>
                {
                    p.Str(s.Target);
                    p.Str(s.LinkPath);
                });
                break;
            case ShimMkdir mk:
                w.Record(ShimTag.Mkdir, p =>
                {
                    p.U32(mk.Mode);
                    p.U32(0);
                    p.Str(mk.Path);
                });
                break;
            default:
                throw new ArgumentException($"unknown rootfs operation {op.GetType().Name}", nameof(op));
        }
    }

    private sealed class Writer
    {
        private byte[] _buf = new byte[4096];
        private int _len = ShimAbi.RequestHeaderSize;
        private uint _records;

        public void Record(ShimTag tag, Action<Writer> payload)
        {
            int header = _len;
            Ensure(ShimAbi.RecordHeaderSize);
            _len += ShimAbi.RecordHeaderSize;
            int start = _len;
            payload(this);
            int length = _len - start;
            BinaryPrimitives.WriteUInt16LittleEndian(_buf.AsSpan(header), (ushort)tag);
            BinaryPrimitives.WriteUInt16LittleEndian(_buf.AsSpan(header + 2), 0);
            BinaryPrimitives.WriteUInt32LittleEndian(_buf.AsSpan(header + 4), (uint)length);
            int pad = (8 - (length & 7)) & 7;
            Ensure(pad);
            _buf.AsSpan(_len, pad).Clear();
            _len += pad;
            _records++;
        }

        public void U16(ushort v)
        {
            Ensure(2);
            BinaryPrimitives.WriteUInt16LittleEndian(_buf.AsSpan(_len), v);
            _len += 2;
        }

        public void U32(uint v)
        {
            Ensure(4);
            BinaryPrimitives.WriteUInt32LittleEndian(_buf.AsSpan(_len), v);
            _len += 4;
        }

        public void U64(ulong v)
        {
            Ensure(8);
            BinaryPrimitives.WriteUInt64LittleEndian(_buf.AsSpan(_len), v);
            _len += 8;
        }

        public void Bytes(ReadOnlySpan<byte> b)
        {
            Ensure(b.Length);
            b.CopyTo(_buf.AsSpan(_len));
            _len += b.Length;
        }

        public void Str(string s)
        {
            if (s.Contains('\0'))
                throw new ArgumentException($"string contains a NUL byte: \"{s.Replace("\0", "\\0")}\"");
            int n = Encoding.UTF8.GetByteCount(s);
            Ensure(n + 1);
            Encoding.UTF8.GetBytes(s, _buf.AsSpan(_len));
            _buf[_len + n] = 0;
            _len += n + 1;
        }

        public byte[] Finish(ShimMode mode)
        {
            if ((uint)_len > ShimAbi.MaxRequest)
                throw new ArgumentException($"request of {_len} bytes exceeds the shim's limit of {ShimAbi.MaxRequest}");
            var span = _buf.AsSpan();
            BinaryPrimitives.WriteUInt32LittleEndian(span, ShimAbi.RequestMagic);
            BinaryPrimitives.WriteUInt16LittleEndian(span[4..], ShimAbi.AbiVersion);
            BinaryPrimitives.WriteUInt16LittleEndian(span[6..], (ushort)mode);
            BinaryPrimitives.WriteUInt32LittleEndian(span[8..], (uint)_len);
            BinaryPrimitives.WriteUInt32LittleEndian(span[12..], _records);
            return _buf.AsSpan(0, _len).ToArray();
        }

        private void Ensure(int n)
        {
            if (_len + n <= _buf.Length)
                return;
            Array.Resize(ref _buf, Math.Max(_buf.Length * 2, _len + n));
        }
    }
}
