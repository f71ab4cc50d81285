using Supervisor.Runtime.Configs;

namespace Supervisor.Runtime.Oci;

/// <summary>The result of splitting an OCI mount's option list.</summary>
public sealed record ParsedMountOptions(ulong Flags, ulong ClearedFlags, IReadOnlyList<ulong> PropagationFlags, string Data, bool Bind);

/// <summary>
/// Splits OCI mount options into mount(2) flags, propagation changes and filesystem data. The options are
/// applied left to right, so the last of "ro"/"rw" wins, like mount(8).
/// </summary>
public static class MountOptions
{
    // Options that set a flag, and options that clear one.
    private static readonly Dictionary<string, ulong> Setting = new(StringComparer.Ordinal)
    {
        ["ro"] = MountFlags.ReadOnly,
        ["nosuid"] = MountFlags.NoSuid,
        ["nodev"] = MountFlags.NoDev,
        ["noexec"] = MountFlags.NoExec,
        ["sync"] = MountFlags.Synchronous,
        ["dirsync"] = MountFlags.DirSync,
        ["remount"] = MountFlags.Remount,
        ["mand"] = MountFlags.Mandlock,
        ["noatime"] = MountFlags.NoAtime,
        ["nodiratime"] = MountFlags.NoDirAtime,
        ["relatime"] = MountFlags.RelAtime,
        ["strictatime"] = MountFlags.StrictAtime,
        ["lazytime"] = MountFlags.LazyTime,
        ["nosymfollow"] = MountFlags.NoSymFollow,
        ["bind"] = MountFlags.Bind,
        ["rbind"] = MountFlags.Bind | MountFlags.Rec,
    };

    private static readonly Dictionary<string, ulong> Clearing = new(StringComparer.Ordinal)
    {
        ["rw"] = MountFlags.ReadOnly,
        ["suid"] = MountFlags.NoSuid,
        ["dev"] = MountFlags.NoDev,
        ["exec"] = MountFlags.NoExec,
        ["async"] = MountFlags.Synchronous,
        ["nomand"] = MountFlags.Mandlock,
        ["atime"] = MountFlags.NoAtime,
        ["diratime"] = MountFlags.NoDirAtime,
        ["norelatime"] = MountFlags.RelAtime,
        ["nostrictatime"] = MountFlags.StrictAtime,
        ["nolazytime"] = MountFlags.LazyTime,
        ["symfollow"] = MountFlags.NoSymFollow,
    };

    private static readonly Dictionary<string, ulong> Propagation = new(StringComparer.Ordinal)
    {
        ["private"] = MountFlags.Private,
        ["rprivate"] = MountFlags.Private | MountFlags.Rec,
        ["shared"] = MountFlags.Shared,
        ["rshared"] = MountFlags.Shared | MountFlags.Rec,
        ["slave"] = MountFlags.Slave,
        ["rslave"] = MountFlags.Slave | MountFlags.Rec,
        ["unbindable"] = MountFlags.Unbindable,
        ["runbindable"] = MountFlags.Unbindable | MountFlags.Rec,
    };

    public static ParsedMountOptions Parse(IEnumerable<string>? options)
    {
        ulong flags = 0, cleared = 0;
        var propagation = new List<ulong>();
        var data = new List<string>();
        var bind = false;
        foreach (var option in options ?? [])
        {
            if (option is "defaults" or "") continue;
            if (Setting.TryGetValue(option, out var set))
            {
                flags |= set;
                cleared &= ~set;
                if ((set & MountFlags.Bind) != 0) bind = true;
            }
            else if (Clearing.TryGetValue(option, out var clear))
            {
                // A bind mount inherits its source's flags, so "rw" or "suid" only take effect if the
                // remount that follows the bind knows to clear them.
                flags &= ~clear;
                cleared |= clear;
            }
            else if (Propagation.TryGetValue(option, out var prop))
                propagation.Add(prop);
            else
                data.Add(option);
        }
        return new ParsedMountOptions(flags, cleared, propagation, string.Join(',', data), bind);
    }

    /// <summary>linux.rootfsPropagation → MS_* flags; empty means "the default" (0).</summary>
    public static bool TryParsePropagation(string? value, out ulong flags)
    {
        flags = 0;
        if (string.IsNullOrEmpty(value)) return true;
        return Propagation.TryGetValue(value, out flags);
    }
}
