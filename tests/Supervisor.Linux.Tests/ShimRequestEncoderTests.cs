using System.Buffers.Binary;
using System.Text;
using Supervisor.Linux.Shim;

namespace Supervisor.Linux.Tests;

public class ShimRequestEncoderTests
{
    private sealed record Rec(ushort Tag, ushort Reserved, byte[] Payload, int Offset);

    /// <summary>Walks the blob independently of the encoder and checks the framing rules on the way.</summary>
    private static List<Rec> Records(byte[] blob)
    {
        Assert.Equal(ShimAbi.RequestMagic, BinaryPrimitives.ReadUInt32LittleEndian(blob));
        Assert.Equal(ShimAbi.AbiVersion, BinaryPrimitives.ReadUInt16LittleEndian(blob.AsSpan(4)));
        Assert.Equal((uint)blob.Length, BinaryPrimitives.ReadUInt32LittleEndian(blob.AsSpan(8)));
        var list = new List<Rec>();
        int off = 16;
        while (off < blob.Length)
        {
            Assert.Equal(0, off % 8);
            ushort tag = BinaryPrimitives.ReadUInt16LittleEndian(blob.AsSpan(off));
            ushort reserved = BinaryPrimitives.ReadUInt16LittleEndian(blob.AsSpan(off + 2));
            int len = (int)BinaryPrimitives.ReadUInt32LittleEndian(blob.AsSpan(off + 4));
            var payload = blob.AsSpan(off + 8, len).ToArray();
            int padded = (len + 7) & ~7;
            Assert.All(blob.AsSpan(off + 8 + len, padded - len).ToArray(), b => Assert.Equal(0, b));
            list.Add(new Rec(tag, reserved, payload, off));
            off += 8 + padded;
        }
        Assert.Equal(blob.Length, off);
        Assert.Equal((uint)list.Count, BinaryPrimitives.ReadUInt32LittleEndian(blob.AsSpan(12)));
        return list;
    }

    private static string Str(byte[] p, ref int at)
    {
        int nul = Array.IndexOf(p, (byte)0, at);
        Assert.True(nul >= 0, "string without NUL");
        var s = Encoding.UTF8.GetString(p, at, nul - at);
        at = nul + 1;
        return s;
    }

    [Fact]
    public void Header_carries_magic_version_mode_length_and_count()
    {
        var r = new ShimRequest { Mode = ShimMode.Exec };
        r.Args.Add("true");
        var blob = ShimRequestEncoder.Encode(r);
        Assert.Equal(0x53, blob[0]); // "SUPV" little-endian
        Assert.Equal((byte)'U', blob[1]);
        Assert.Equal((ushort)2, BinaryPrimitives.ReadUInt16LittleEndian(blob.AsSpan(6)));
        var recs = Records(blob);
        // args, cwd, flags, user: the records every request has.
        Assert.Equal(new ushort[] { 1, 3, 8, 10 }, recs.Select(x => x.Tag).ToArray());
        Assert.All(recs, x => Assert.Equal(0, x.Reserved));
    }

    [Fact]
    public void Strings_are_nul_terminated_utf8_and_padded_to_8()
    {
        var r = new ShimRequest();
        r.Args.Add("héllo"); // 6 UTF-8 bytes + NUL = 7, padded to 8
        r.Args.Add("12345678"); // 8 + NUL = 9, padded to 16
        var recs = Records(ShimRequestEncoder.Encode(r));
        Assert.Equal(7, recs[0].Payload.Length);
        Assert.Equal(Encoding.UTF8.GetBytes("héllo\0"), recs[0].Payload);
        Assert.Equal(9, recs[1].Payload.Length);
        Assert.Equal(recs[0].Offset + 16, recs[1].Offset);
        Assert.Equal(recs[1].Offset + 24, recs[2].Offset);
    }

    [Fact]
    public void Every_tag_has_its_documented_layout()
    {
        var r = new ShimRequest
        {
            Mode = ShimMode.Init,
            Cwd = "/work",
            Rootfs = "/rootfs",
            StateDir = "/run/s",
            Hostname = "h",
            Domainname = "d",
            Flags = ShimFlags.SetupRootfs | ShimFlags.WaitStart,
            User = new ShimUser(1000, 1001, 23, [29, 2000]),
            Caps = new ShimCaps(1, 2, 3, 4, 5),
            OomScoreAdj = -500,
            RootPropagation = 0x40000 | 0x4000,
            Seccomp = new ShimSeccomp(1, new byte[16]),
            PreserveFds = 2,
            ParentDeathSignal = 9,
            ConsoleSize = (24, 80),
        };
        r.Args.Add("sh");
        r.Env.Add("A=1");
        r.Namespaces.Add(new ShimNamespace(0x20000, null));
        r.Namespaces.Add(new ShimNamespace(0x40000000, "/proc/1/ns/net"));
        r.Rlimits.Add(new ShimRlimit(7, 1024, 4096));
        r.Sysctls.Add(("net/ipv4/ip_forward", "1"));
        r.RootfsOps.Add(new ShimMount(ShimMountKind.Bind, "/src", "/dst", "", 0x1000 | 1, 2, [0x40000], "", true));
        r.RootfsOps.Add(new ShimDevice("/dev/null", 0x2000 | 0x1b6, 1, 3, 5, 6));
        r.RootfsOps.Add(new ShimSymlink("pts/ptmx", "/dev/ptmx"));
        r.RootfsOps.Add(new ShimMkdir("/dev/pts", 0x1ed));
        r.MaskPaths.Add("/proc/kcore");
        r.ReadonlyPaths.Add("/proc/sys");

        var recs = Records(ShimRequestEncoder.Encode(r));
        var byTag = recs.GroupBy(x => (ShimTag)x.Tag).ToDictionary(g => g.Key, g => g.ToList());
        int at;

        Assert.Equal("/work\0", Encoding.UTF8.GetString(byTag[ShimTag.Cwd][0].Payload));
        Assert.Equal("/rootfs\0", Encoding.UTF8.GetString(byTag[ShimTag.Rootfs][0].Payload));
        Assert.Equal("/run/s\0", Encoding.UTF8.GetString(byTag[ShimTag.StateDir][0].Payload));
        Assert.Equal("h\0", Encoding.UTF8.GetString(byTag[ShimTag.Hostname][0].Payload));
        Assert.Equal("d\0", Encoding.UTF8.GetString(byTag[ShimTag.Domainname][0].Payload));
        Assert.Equal((ulong)(ShimFlags.SetupRootfs | ShimFlags.WaitStart), BinaryPrimitives.ReadUInt64LittleEndian(byTag[ShimTag.Flags][0].Payload));

        var ns = byTag[ShimTag.Namespace];
        Assert.Equal(2, ns.Count);
        Assert.Equal(0x20000u, BinaryPrimitives.ReadUInt32LittleEndian(ns[0].Payload));
        Assert.Equal(9, ns[0].Payload.Length); // struct (8) + "" NUL
        at = 8;
        Assert.Equal("/proc/1/ns/net", Str(ns[1].Payload, ref at));

        var user = byTag[ShimTag.User][0].Payload;
        Assert.Equal(ShimAbi.UserSize + 8, user.Length);
        Assert.Equal(1000u, BinaryPrimitives.ReadUInt32LittleEndian(user.AsSpan(ShimAbi.Offsets.UserUid)));
        Assert.Equal(1001u, BinaryPrimitives.ReadUInt32LittleEndian(user.AsSpan(ShimAbi.Offsets.UserGid)));
        Assert.Equal(23u, BinaryPrimitives.ReadUInt32LittleEndian(user.AsSpan(ShimAbi.Offsets.UserUmask)));
        Assert.Equal(2u, BinaryPrimitives.ReadUInt32LittleEndian(user.AsSpan(ShimAbi.Offsets.UserNgroups)));
        Assert.Equal(2000u, BinaryPrimitives.ReadUInt32LittleEndian(user.AsSpan(20)));

        var caps = byTag[ShimTag.Caps][0].Payload;
        Assert.Equal(ShimAbi.CapsSize, caps.Length);
        Assert.Equal(5ul, BinaryPrimitives.ReadUInt64LittleEndian(caps.AsSpan(ShimAbi.Offsets.CapsAmbient)));

        var rl = byTag[ShimTag.Rlimit][0].Payload;
        Assert.Equal(ShimAbi.RlimitSize, rl.Length);
        Assert.Equal(4096ul, BinaryPrimitives.ReadUInt64LittleEndian(rl.AsSpan(ShimAbi.Offsets.RlimitHard)));

        Assert.Equal(-500, BinaryPrimitives.ReadInt32LittleEndian(byTag[ShimTag.OomScoreAdj][0].Payload));
        Assert.Equal("net/ipv4/ip_forward\u00001\0", Encoding.UTF8.GetString(byTag[ShimTag.Sysctl][0].Payload));

        var m = byTag[ShimTag.Mount][0].Payload;
        Assert.Equal(2u, BinaryPrimitives.ReadUInt32LittleEndian(m.AsSpan(ShimAbi.Offsets.MountKind)));
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(m.AsSpan(ShimAbi.Offsets.MountDestIsFile)));
        Assert.Equal(0x1001ul, BinaryPrimitives.ReadUInt64LittleEndian(m.AsSpan(ShimAbi.Offsets.MountFlags)));
        Assert.Equal(2ul, BinaryPrimitives.ReadUInt64LittleEndian(m.AsSpan(ShimAbi.Offsets.MountClearFlags)));
        Assert.Equal(0x40000ul, BinaryPrimitives.ReadUInt64LittleEndian(m.AsSpan(ShimAbi.Offsets.MountPropagation)));
        Assert.Equal(0ul, BinaryPrimitives.ReadUInt64LittleEndian(m.AsSpan(ShimAbi.Offsets.MountPropagation + 8)));
        at = ShimAbi.MountSize;
        Assert.Equal(["/src", "/dst", "", ""], new[] { Str(m, ref at), Str(m, ref at), Str(m, ref at), Str(m, ref at) });
        Assert.Equal(m.Length, at);

        var d = byTag[ShimTag.Device][0].Payload;
        Assert.Equal(0x21b6u, BinaryPrimitives.ReadUInt32LittleEndian(d.AsSpan(ShimAbi.Offsets.DeviceMode)));
        Assert.Equal(5u, BinaryPrimitives.ReadUInt32LittleEndian(d.AsSpan(ShimAbi.Offsets.DeviceUid)));
        Assert.Equal(6u, BinaryPrimitives.ReadUInt32LittleEndian(d.AsSpan(ShimAbi.Offsets.DeviceGid)));
        Assert.Equal(3ul, BinaryPrimitives.ReadUInt64LittleEndian(d.AsSpan(ShimAbi.Offsets.DeviceMinor)));
        at = ShimAbi.DeviceSize;
        Assert.Equal("/dev/null", Str(d, ref at));

        Assert.Equal("pts/ptmx\0/dev/ptmx\0", Encoding.UTF8.GetString(byTag[ShimTag.Symlink][0].Payload));
        var mk = byTag[ShimTag.Mkdir][0].Payload;
        Assert.Equal(0x1edu, BinaryPrimitives.ReadUInt32LittleEndian(mk));
        Assert.Equal("/dev/pts\0", Encoding.UTF8.GetString(mk, ShimAbi.MkdirSize, mk.Length - ShimAbi.MkdirSize));

        // Rootfs operations keep their list order.
        var order = recs.Where(x => x.Tag is 15 or 16 or 17 or 25).Select(x => x.Tag).ToArray();
        Assert.Equal(new ushort[] { 15, 16, 17, 25 }, order);

        Assert.Equal("/proc/kcore\0", Encoding.UTF8.GetString(byTag[ShimTag.MaskPath][0].Payload));
        Assert.Equal("/proc/sys\0", Encoding.UTF8.GetString(byTag[ShimTag.ReadonlyPath][0].Payload));
        Assert.Equal(0x44000ul, BinaryPrimitives.ReadUInt64LittleEndian(byTag[ShimTag.RootPropagation][0].Payload));
        var sc = byTag[ShimTag.Seccomp][0].Payload;
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(sc));
        Assert.Equal(2u, BinaryPrimitives.ReadUInt32LittleEndian(sc.AsSpan(4)));
        Assert.Equal(8 + 16, sc.Length);
        Assert.Equal(2u, BinaryPrimitives.ReadUInt32LittleEndian(byTag[ShimTag.PreserveFds][0].Payload));
        Assert.Equal(9, BinaryPrimitives.ReadInt32LittleEndian(byTag[ShimTag.Pdeathsig][0].Payload));
        var cs = byTag[ShimTag.ConsoleSize][0].Payload;
        Assert.Equal((ushort)24, BinaryPrimitives.ReadUInt16LittleEndian(cs));
        Assert.Equal((ushort)80, BinaryPrimitives.ReadUInt16LittleEndian(cs.AsSpan(2)));
    }

    [Fact]
    public void Unset_umask_is_encoded_as_the_sentinel()
    {
        var r = new ShimRequest();
        r.Args.Add("x");
        var user = Records(ShimRequestEncoder.Encode(r)).Single(x => x.Tag == (ushort)ShimTag.User).Payload;
        Assert.Equal(ShimAbi.UmaskUnset, BinaryPrimitives.ReadUInt32LittleEndian(user.AsSpan(8)));
    }

    [Fact]
    public void Invalid_requests_are_refused()
    {
        Assert.Throws<ArgumentException>(() => ShimRequestEncoder.Encode(new ShimRequest()));
        var nul = new ShimRequest();
        nul.Args.Add("a\0b");
        Assert.Throws<ArgumentException>(() => ShimRequestEncoder.Encode(nul));
        var seccomp = new ShimRequest { Seccomp = new ShimSeccomp(0, new byte[12]) };
        seccomp.Args.Add("x");
        Assert.Throws<ArgumentException>(() => ShimRequestEncoder.Encode(seccomp));
    }
}
