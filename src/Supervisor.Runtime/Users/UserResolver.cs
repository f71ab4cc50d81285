using System.Globalization;
using Supervisor.Runtime.Paths;
using Supervisor.Runtime.Validation;

namespace Supervisor.Runtime.Users;

/// <summary>The credentials a container process runs with, resolved from a user spec.</summary>
public sealed record ExecUser(uint Uid, uint Gid, IReadOnlyList<uint> Sgids, string Home);

/// <summary>A user or group name that is not in the container's /etc/passwd or /etc/group, or an id out of range.</summary>
public sealed class UserLookupException(string message) : ConfigException(message);

/// <summary>
/// Resolves "user[:group]" specs against passwd/group text, with libcontainer's GetExecUser rules
/// (reference §5.7).
/// </summary>
public static class UserResolver
{
    /// <summary>Largest id accepted for a number that is not in the files (libcontainer's limit, 2^31-1).</summary>
    public const uint MaxId = int.MaxValue;

    /// <summary>Largest /etc/passwd or /etc/group read from a rootfs.</summary>
    public const long MaxFileSize = 16 * 1024 * 1024;

    /// <summary>
    /// Resolves <paramref name="userSpec"/>, one of "", "user", "uid", "user:group", "uid:gid", "user:gid",
    /// "uid:group":
    /// <list type="bullet">
    /// <item>The user is matched by name or uid (an empty user matches <paramref name="defaultUid"/>); the first
    /// match gives uid, primary gid and home. A number that matches no entry is taken as the uid.</item>
    /// <item>An explicit group is matched by name (or gid when numeric) and replaces the primary gid; a number
    /// that matches no entry is taken as the gid.</item>
    /// <item>Without an explicit group, the supplementary groups are those listing the matched user name as a
    /// member. With one, there are none from the files.</item>
    /// <item><paramref name="extraGids"/> (OCI process.user.additionalGids) are appended; duplicates are dropped.</item>
    /// <item>Home is the passwd entry's, or "/".</item>
    /// </list>
    /// A null text means the file does not exist: names then cannot be resolved, numbers still can.
    /// </summary>
    public static ExecUser Resolve(string? userSpec, uint defaultUid, uint defaultGid, IReadOnlyList<uint> extraGids,
        string? passwdText, string? groupText)
    {
        var spec = userSpec ?? "";
        var parts = spec.Split(':');
        if (parts.Length > 2) throw new UserLookupException($"invalid user spec \"{spec}\": expected user[:group]");
        var userArg = parts[0];
        var groupArg = parts.Length > 1 ? parts[1] : "";

        uint uid = defaultUid, gid = defaultGid;
        var home = "/";
        string? matchedName = null;

        var users = PasswdParser.Parse(passwdText);
        var userIsNumeric = Id.TryParse(userArg, out var userNumber);
        var match = userArg.Length == 0
            ? users.FirstOrDefault(u => u.Uid == defaultUid)
            : users.FirstOrDefault(u => u.Name == userArg || (userIsNumeric && u.Uid == userNumber));
        if (match is not null)
        {
            uid = match.Uid;
            gid = match.Gid;
            home = match.Home.Length > 0 ? match.Home : "/";
            matchedName = match.Name;
        }
        else if (userArg.Length > 0)
        {
            if (!IsNumeric(userArg)) throw new UserLookupException($"unable to find user {userArg}");
            uid = CheckRange(userArg, "user");
        }

        var sgids = new List<uint>();
        if (groupArg.Length > 0 || matchedName is not null)
        {
            var groups = GroupParser.Parse(groupText);
            if (groupArg.Length > 0)
            {
                var groupIsNumeric = Id.TryParse(groupArg, out var groupNumber);
                var g = groups.FirstOrDefault(x => x.Name == groupArg || (groupIsNumeric && x.Gid == groupNumber));
                if (g is not null) gid = g.Gid;
                else if (IsNumeric(groupArg)) gid = CheckRange(groupArg, "group");
                else throw new UserLookupException($"unable to find group {groupArg}");
            }
            else
            {
                foreach (var g in groups)
                    if (g.Members.Contains(matchedName!) && !sgids.Contains(g.Gid)) sgids.Add(g.Gid);
            }
        }
        foreach (var extra in extraGids)
            if (!sgids.Contains(extra)) sgids.Add(extra);
        return new ExecUser(uid, gid, sgids, home);
    }

    /// <summary>
    /// <see cref="Resolve"/> against <c>rootfs/etc/passwd</c> and <c>rootfs/etc/group</c>. Symlinks on the way
    /// are resolved inside the rootfs (an absolute link means the rootfs's "/", never the host's), so an image
    /// whose /etc points at the host's /etc reads its own, usually missing, files.
    /// </summary>
    public static ExecUser ResolveInRootfs(string rootfs, string? userSpec, uint defaultUid, uint defaultGid,
        IReadOnlyList<uint> extraGids) =>
        Resolve(userSpec, defaultUid, defaultGid, extraGids, ReadInRoot(rootfs, "/etc/passwd"), ReadInRoot(rootfs, "/etc/group"));

    /// <summary>
    /// The text of a file inside the rootfs, or null when it does not exist, is not a regular file or sits
    /// behind a symlink loop (libcontainer, too, treats a file it cannot open as absent: numeric ids still
    /// work, names do not).
    /// </summary>
    internal static string? ReadInRoot(string rootfs, string path)
    {
        string hostPath;
        try
        {
            hostPath = InRootResolver.Resolve(rootfs, path);
        }
        catch (IOException)
        {
            return null;
        }
        var info = new FileInfo(hostPath);
        if (!info.Exists) return null;
        // stat reports size 0 for FIFOs, sockets and device nodes; not opening those avoids blocking on a
        // FIFO planted by the image. An empty regular file reads as empty either way.
        if (info.Length == 0) return "";
        if (info.Length > MaxFileSize) throw new UserLookupException($"{path} in the container is larger than {MaxFileSize} bytes");
        try
        {
            return File.ReadAllText(hostPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserLookupException($"{path} in the container: {e.Message}");
        }
    }

    private static bool IsNumeric(string s) => s.Length > 0 && s.All(char.IsAsciiDigit);

    private static uint CheckRange(string digits, string what)
    {
        if (!ulong.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var v) || v > MaxId)
            throw new UserLookupException($"{what} id {digits} is out of range (0..{MaxId})");
        return (uint)v;
    }
}
