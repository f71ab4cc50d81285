using System.Globalization;

namespace Supervisor.Runtime.Users;

/// <summary>One /etc/passwd entry: <c>name:password:uid:gid:gecos:home:shell</c>.</summary>
public sealed record PasswdEntry(string Name, string Password, uint Uid, uint Gid, string Gecos, string Home, string Shell);

/// <summary>One /etc/group entry: <c>name:password:gid:member1,member2</c>.</summary>
public sealed record GroupEntry(string Name, string Password, uint Gid, IReadOnlyList<string> Members);

/// <summary>
/// Parser for /etc/passwd text. Like libcontainer it is tolerant: blank lines are skipped, missing trailing
/// fields are empty and extra fields are ignored. It differs in one deliberate way: libcontainer turns a
/// uid or gid that is not a number into 0, so a garbage line in a container image would name a root user;
/// here such a line is skipped instead (a lookup of that name then fails or falls back to numeric ids).
/// </summary>
public static class PasswdParser
{
    public static IReadOnlyList<PasswdEntry> Parse(string? text)
    {
        var result = new List<PasswdEntry>();
        if (text is null) return result;
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0) continue;
            var f = line.Split(':');
            if (!Id.TryParse(Field(f, 2), out var uid) || !Id.TryParse(Field(f, 3), out var gid)) continue;
            result.Add(new PasswdEntry(f[0], Field(f, 1), uid, gid, Field(f, 4), Field(f, 5), Field(f, 6)));
        }
        return result;
    }

    internal static string Field(string[] fields, int i) => i < fields.Length ? fields[i] : "";
}

/// <summary>Parser for /etc/group text, with the same tolerance rules as <see cref="PasswdParser"/>.</summary>
public static class GroupParser
{
    public static IReadOnlyList<GroupEntry> Parse(string? text)
    {
        var result = new List<GroupEntry>();
        if (text is null) return result;
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.Trim().Length == 0) continue;
            var f = line.Split(':');
            if (!Id.TryParse(PasswdParser.Field(f, 2), out var gid)) continue;
            var members = PasswdParser.Field(f, 3).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            result.Add(new GroupEntry(f[0], PasswdParser.Field(f, 1), gid, members));
        }
        return result;
    }
}

internal static class Id
{
    /// <summary>A decimal id with no sign, spaces or other decoration.</summary>
    public static bool TryParse(string s, out uint id) =>
        uint.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out id);
}
