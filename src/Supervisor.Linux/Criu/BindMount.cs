using System.Runtime.InteropServices;

namespace Supervisor.Linux.Criu;

/// <summary>
/// The one mount the runtime itself makes: CRIU restores into a root that must be a mount point whose
/// parent is not overmounted, so the container rootfs is bound onto a private directory first.
/// </summary>
public static partial class BindMount
{
    private const ulong MS_BIND = 0x1000;
    private const ulong MS_REC = 0x4000;
    private const int MNT_DETACH = 2;

    [LibraryImport("libc", EntryPoint = "mount", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Mount(string source, string target, string? fsType, ulong flags, nint data);

    [LibraryImport("libc", EntryPoint = "umount2", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Umount2(string target, int flags);

    /// <summary>mount --rbind <paramref name="source"/> <paramref name="target"/>.</summary>
    public static void Recursive(string source, string target)
    {
        if (Mount(source, target, null, MS_BIND | MS_REC, 0) != 0)
            throw new SyscallException("mount(MS_BIND|MS_REC)", $"{source} on {target}", Syscalls.LastErrno());
    }

    /// <summary>umount2(MNT_DETACH): lazily removes the mount even while something still uses it.</summary>
    public static void Detach(string target)
    {
        if (Umount2(target, MNT_DETACH) != 0)
            throw new SyscallException("umount2(MNT_DETACH)", target, Syscalls.LastErrno());
    }
}
