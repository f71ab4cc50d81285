using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Supervisor.Runtime.Oci;

/// <summary>
/// A config that was checked once and must be run exactly as checked. A config read from a bundle names
/// its rootfs and bind sources relative to that bundle; once the config is written elsewhere (a daemon's own
/// bundle directory, or another node's), those paths must already be absolute or they would point into the
/// new directory. The file is written under a private directory by rename, so nobody sees (or swaps in) a
/// half-written config between the write and the create.
/// </summary>
public static class CheckedConfig
{
    private const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>
    /// <paramref name="spec"/> with root.path and every bind mount's source made absolute against
    /// <paramref name="bundleDir"/> (null for an inline config: relative paths are then taken from /).
    /// </summary>
    public static OciSpec WithAbsolutePaths(OciSpec spec, string? bundleDir)
    {
        var baseDir = bundleDir ?? "/";
        string Abs(string p) => Path.GetFullPath(Path.IsPathRooted(p) ? p : Path.Combine(baseDir, p));
        return spec with
        {
            Root = spec.Root is null ? null : spec.Root with { Path = spec.Root.Path is { } rp ? Abs(rp) : null },
            Mounts = spec.Mounts?.Select(m =>
                m.Source is { } s && (m.Type == "bind" || (m.Options?.Any(o => o is "bind" or "rbind") ?? false)) ? m with { Source = Abs(s) } : m).ToList(),
        };
    }

    private static readonly JsonTypeInfo<OciSpec> Compact =
        (JsonTypeInfo<OciSpec>)new JsonSerializerOptions(OciJsonContext.Default.Options) { WriteIndented = false }.GetTypeInfo(typeof(OciSpec));

    /// <summary>
    /// The config.json text of <paramref name="spec"/> with its paths made absolute (what travels and what is
    /// written). <paramref name="indented"/> off gives the compact form that a cluster workload carries in its
    /// replicated state, about half the size (the default seccomp profile alone is several kilobytes).
    /// </summary>
    public static string Serialize(OciSpec spec, string? bundleDir, bool indented = true) =>
        indented ? SpecLoader.Serialize(WithAbsolutePaths(spec, bundleDir)) : JsonSerializer.Serialize(WithAbsolutePaths(spec, bundleDir), Compact);

    /// <summary>
    /// Writes <paramref name="configJson"/> as <paramref name="dir"/>/config.json: the directory (and its parent)
    /// created 0700, the file written to a temporary name and renamed over the final one. Returns <paramref name="dir"/>.
    /// </summary>
    public static string Write(string dir, string configJson)
    {
        var parent = Path.GetDirectoryName(Path.GetFullPath(dir));
        if (!string.IsNullOrEmpty(parent))
            Directory.CreateDirectory(parent, Private);
        Directory.CreateDirectory(dir, Private);
        var tmp = Path.Combine(dir, "config.json.tmp");
        File.WriteAllText(tmp, configJson);
        File.Move(tmp, Path.Combine(dir, "config.json"), overwrite: true);
        return dir;
    }
}
