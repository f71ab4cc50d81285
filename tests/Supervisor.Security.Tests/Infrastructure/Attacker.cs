using System.Security.Cryptography;
using System.Text;

namespace Supervisor.Security.Tests.Infrastructure;

/// <summary>
/// The static attack helper (Attack/svattack.c), compiled once per test run with the host's gcc. Tests copy
/// it into a container's rootfs as /svattack, or run it on the host for host-side probes.
/// </summary>
public static class Attacker
{
    private static readonly Lazy<string> Built = new(Build);

    /// <summary>Path of the compiled helper on the host.</summary>
    public static string HostPath => Built.Value;

    private static string Build()
    {
        var source = Path.Combine(AppContext.BaseDirectory, "Attack", "svattack.c");
        var hash = Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(source)))[..16].ToLowerInvariant();
        var output = Path.Combine(Path.GetTempPath(), "svsec-attack-" + hash);
        if (File.Exists(output))
            return output;
        var tmp = output + "." + Environment.ProcessId;
        var r = Shell.Run($"gcc -static -O2 -Wall -Wextra -Werror -Wno-format-truncation -o {Shell.Quote(tmp)} {Shell.Quote(source)}");
        if (r.ExitCode != 0)
            throw new InvalidOperationException("compiling svattack failed: " + r);
        File.Move(tmp, output, overwrite: true);
        return output;
    }

    /// <summary>Copies the helper into <paramref name="rootfs"/> as /svattack (mode 0755) and returns that path.</summary>
    public static string InstallInto(string rootfs, string name = "svattack")
    {
        var dest = Path.Combine(rootfs, name);
        File.Copy(HostPath, dest, overwrite: true);
        File.SetUnixFileMode(dest, (UnixFileMode)Convert.ToInt32("755", 8));
        return "/" + name;
    }

    /// <summary>The "key=value" lines of a helper's output.</summary>
    public static Dictionary<string, string> Values(string output)
    {
        var d = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in output.Split('\n'))
        {
            int eq = line.IndexOf('=');
            if (eq > 0 && !line[..eq].Contains(' '))
                d[line[..eq]] = line[(eq + 1)..];
        }
        return d;
    }

    /// <summary>The lines of a helper's output that start with <paramref name="tag"/> and a space, without the tag.</summary>
    public static List<string> Tagged(string output, string tag) =>
        output.Split('\n').Where(l => l.StartsWith(tag + " ", StringComparison.Ordinal)).Select(l => l[(tag.Length + 1)..]).ToList();

    public static string Describe(string output)
    {
        var sb = new StringBuilder();
        foreach (var line in output.Split('\n').Take(80))
            sb.AppendLine(line);
        return sb.ToString();
    }
}
