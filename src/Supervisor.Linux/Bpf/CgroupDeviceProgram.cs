using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Supervisor.Linux.Bpf;

/// <summary>
/// bpf(2) for cgroup v2 device control: a BPF_PROG_TYPE_CGROUP_DEVICE program is loaded and attached to
/// a cgroup directory (BPF_CGROUP_DEVICE). The kernel runs every attached program of the cgroup and of its
/// ancestors on each device open and mknod; the access is allowed only when all of them return 1.
/// </summary>
public static unsafe partial class CgroupDeviceProgram
{
    private const long SYS_bpf = 321; // x86_64
    private const int BPF_PROG_LOAD = 5;
    private const int BPF_PROG_ATTACH = 8;
    private const int BPF_PROG_DETACH = 9;
    private const int BPF_PROG_GET_FD_BY_ID = 13;
    private const int BPF_PROG_QUERY = 16;
    private const uint BPF_PROG_TYPE_CGROUP_DEVICE = 15;
    private const uint BPF_CGROUP_DEVICE = 6;

    /// <summary>
    /// Several programs may sit on one cgroup and all must allow an access. The runtime attaches the new
    /// program before detaching the old ones on an update, so a container is never without a filter.
    /// </summary>
    public const uint BPF_F_ALLOW_MULTI = 2;

    // union bpf_attr is at most a few hundred bytes; a zeroed buffer of this size is accepted by every
    // kernel that knows the fields used (bytes past the kernel's own size must be zero).
    private const int AttrSize = 128;

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long Syscall(long number, long cmd, void* attr, long size);

    private static Errno LastErrno() => (Errno)Marshal.GetLastPInvokeError();

    /// <summary>
    /// Loads <paramref name="instructions"/> (struct bpf_insn, 8 bytes each, as little-endian u64) and
    /// returns the program fd. A verifier rejection carries the verifier log in the exception path.
    /// </summary>
    public static SafeFileHandle Load(ReadOnlySpan<ulong> instructions, string license)
    {
        var lic = Encoding.ASCII.GetBytes(license + "\0");
        var log = new byte[64 * 1024];
        byte* attr = stackalloc byte[AttrSize];
        new Span<byte>(attr, AttrSize).Clear();
        fixed (ulong* insns = instructions)
        fixed (byte* licp = lic)
        fixed (byte* logp = log)
        {
            *(uint*)(attr + 0) = BPF_PROG_TYPE_CGROUP_DEVICE;
            *(uint*)(attr + 4) = (uint)instructions.Length;
            *(ulong*)(attr + 8) = (ulong)insns;
            *(ulong*)(attr + 16) = (ulong)licp;
            // The log is only requested after a failure would be too late: ask for level 1 up front, the
            // kernel fills it only when verification fails.
            *(uint*)(attr + 24) = 1;
            *(uint*)(attr + 28) = (uint)log.Length;
            *(ulong*)(attr + 32) = (ulong)logp;
            var name = "sv_devices"u8;
            name.CopyTo(new Span<byte>(attr + 48, 16));
            long fd = Syscall(SYS_bpf, BPF_PROG_LOAD, attr, AttrSize);
            if (fd < 0)
            {
                var errno = LastErrno();
                var text = Encoding.ASCII.GetString(log).TrimEnd('\0').Trim();
                var last = text.Split('\n').LastOrDefault(l => l.Length > 0);
                throw new SyscallException("bpf(BPF_PROG_LOAD)", last is null ? "cgroup device program" : "verifier: " + last, errno);
            }
            return new SafeFileHandle((IntPtr)fd, ownsHandle: true);
        }
    }

    /// <summary>Attaches <paramref name="program"/> to the cgroup open as <paramref name="cgroup"/> (an O_DIRECTORY fd).</summary>
    public static void Attach(SafeFileHandle cgroup, SafeFileHandle program, uint flags, string cgroupPath)
    {
        byte* attr = stackalloc byte[AttrSize];
        new Span<byte>(attr, AttrSize).Clear();
        *(uint*)(attr + 0) = (uint)cgroup.DangerousGetHandle();
        *(uint*)(attr + 4) = (uint)program.DangerousGetHandle();
        *(uint*)(attr + 8) = BPF_CGROUP_DEVICE;
        *(uint*)(attr + 12) = flags;
        if (Syscall(SYS_bpf, BPF_PROG_ATTACH, attr, AttrSize) < 0)
            throw new SyscallException("bpf(BPF_PROG_ATTACH)", cgroupPath, LastErrno());
        GC.KeepAlive(cgroup);
        GC.KeepAlive(program);
    }

    /// <summary>Detaches <paramref name="program"/> from the cgroup (with ALLOW_MULTI the program must be named).</summary>
    public static void Detach(SafeFileHandle cgroup, SafeFileHandle program, string cgroupPath)
    {
        byte* attr = stackalloc byte[AttrSize];
        new Span<byte>(attr, AttrSize).Clear();
        *(uint*)(attr + 0) = (uint)cgroup.DangerousGetHandle();
        *(uint*)(attr + 4) = (uint)program.DangerousGetHandle();
        *(uint*)(attr + 8) = BPF_CGROUP_DEVICE;
        if (Syscall(SYS_bpf, BPF_PROG_DETACH, attr, AttrSize) < 0)
            throw new SyscallException("bpf(BPF_PROG_DETACH)", cgroupPath, LastErrno());
        GC.KeepAlive(cgroup);
        GC.KeepAlive(program);
    }

    /// <summary>The ids of the device programs attached directly to the cgroup (not inherited ones).</summary>
    public static uint[] Query(SafeFileHandle cgroup, string cgroupPath)
    {
        var ids = new uint[64];
        byte* attr = stackalloc byte[AttrSize];
        new Span<byte>(attr, AttrSize).Clear();
        fixed (uint* idp = ids)
        {
            *(uint*)(attr + 0) = (uint)cgroup.DangerousGetHandle();
            *(uint*)(attr + 4) = BPF_CGROUP_DEVICE;
            *(ulong*)(attr + 16) = (ulong)idp;
            *(uint*)(attr + 24) = (uint)ids.Length;
            if (Syscall(SYS_bpf, BPF_PROG_QUERY, attr, AttrSize) < 0)
                throw new SyscallException("bpf(BPF_PROG_QUERY)", cgroupPath, LastErrno());
        }
        GC.KeepAlive(cgroup);
        var count = (int)Math.Min(*(uint*)(attr + 24), (uint)ids.Length);
        return ids[..count];
    }

    /// <summary>An fd for the loaded program with id <paramref name="id"/> (needs CAP_SYS_ADMIN).</summary>
    public static SafeFileHandle OpenById(uint id)
    {
        byte* attr = stackalloc byte[AttrSize];
        new Span<byte>(attr, AttrSize).Clear();
        *(uint*)(attr + 0) = id;
        long fd = Syscall(SYS_bpf, BPF_PROG_GET_FD_BY_ID, attr, AttrSize);
        if (fd < 0)
            throw new SyscallException("bpf(BPF_PROG_GET_FD_BY_ID)", "program " + id, LastErrno());
        return new SafeFileHandle((IntPtr)fd, ownsHandle: true);
    }

    /// <summary>Opens a cgroup directory for <see cref="Attach"/>, <see cref="Detach"/> and <see cref="Query"/>.</summary>
    public static SafeFileHandle OpenCgroup(string path) => FileSystemNative.OpenDirectory(path);

    /// <summary>
    /// Replaces every device program attached to <paramref name="cgroupPath"/> with one built from
    /// <paramref name="instructions"/>: the new one is attached first (ALLOW_MULTI), then the old ones
    /// are detached, so no access slips through in between.
    /// </summary>
    public static void Replace(string cgroupPath, ReadOnlySpan<ulong> instructions, string license)
    {
        using var cg = OpenCgroup(cgroupPath);
        var old = Query(cg, cgroupPath);
        using (var prog = Load(instructions, license))
            Attach(cg, prog, BPF_F_ALLOW_MULTI, cgroupPath);
        foreach (var id in old)
        {
            using var p = OpenById(id);
            Detach(cg, p, cgroupPath);
        }
    }
}
