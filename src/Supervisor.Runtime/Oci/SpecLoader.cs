using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Supervisor.Runtime.Validation;

namespace Supervisor.Runtime.Oci;

/// <summary>Reads config.json into an <see cref="OciSpec"/>, turning every JSON problem into one line.</summary>
public static class SpecLoader
{
    /// <summary>Largest config.json accepted. Real ones are a few KiB; the cap keeps a hostile file from eating memory.</summary>
    public const int MaxSize = 16 * 1024 * 1024;

    /// <summary>Deepest JSON nesting accepted (the spec itself needs about 6 levels).</summary>
    public const int MaxDepth = 64;

    public static OciSpec LoadBundle(string bundleDir)
    {
        var path = Path.Combine(bundleDir, "config.json");
        byte[] bytes;
        try
        {
            using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            // Stop as soon as the input passes MaxSize instead of trusting a size from stat, which can
            // change before the read.
            var buffer = new byte[81920];
            using var ms = new MemoryStream();
            int n;
            while ((n = fs.Read(buffer, 0, buffer.Length)) > 0)
            {
                ms.Write(buffer, 0, n);
                if (ms.Length > MaxSize)
                    throw new ConfigException($"config.json: larger than the {MaxSize / (1024 * 1024)} MiB limit");
            }
            bytes = ms.ToArray();
        }
        catch (FileNotFoundException)
        {
            throw new ConfigException($"config.json not found in bundle {bundleDir}");
        }
        catch (DirectoryNotFoundException)
        {
            throw new ConfigException($"config.json not found in bundle {bundleDir}");
        }
        catch (UnauthorizedAccessException e)
        {
            throw new ConfigException($"config.json: cannot read {path}: {e.Message}", e);
        }
        catch (IOException e)
        {
            throw new ConfigException($"config.json: cannot read {path}: {e.Message}", e);
        }
        return Parse(bytes, "config.json");
    }

    public static OciSpec Parse(string json, string sourceName)
    {
        if (json.Length > MaxSize)
            throw new ConfigException($"{sourceName}: larger than the {MaxSize / (1024 * 1024)} MiB limit");
        return Parse(Encoding.UTF8.GetBytes(json), sourceName);
    }

    public static OciSpec Parse(ReadOnlySpan<byte> utf8Json, string sourceName)
    {
        if (utf8Json.Length > MaxSize)
            throw new ConfigException($"{sourceName}: larger than the {MaxSize / (1024 * 1024)} MiB limit");
        OciSpec? spec;
        try
        {
            spec = JsonSerializer.Deserialize(utf8Json, OciJsonContext.Default.OciSpec);
        }
        catch (JsonException e)
        {
            throw new ConfigException(Describe(e, sourceName), e);
        }
        if (spec is null)
            throw new ConfigException($"{sourceName}: expected a JSON object, got null");
        if (string.IsNullOrEmpty(spec.OciVersion))
            throw new ConfigException($"{sourceName}: ociVersion: required");
        return spec;
    }

    /// <summary>Parses a process.json (the OCI process object, as given to <c>exec --process</c>).</summary>
    public static OciProcess ParseProcess(string json, string sourceName)
    {
        if (json.Length > MaxSize)
            throw new ConfigException($"{sourceName}: larger than the {MaxSize / (1024 * 1024)} MiB limit");
        try
        {
            return JsonSerializer.Deserialize(json, OciJsonContext.Default.OciProcess)
                ?? throw new ConfigException($"{sourceName}: expected a JSON object, got null");
        }
        catch (JsonException e)
        {
            throw new ConfigException(Describe(e, sourceName), e);
        }
    }

    /// <summary>Reads a process.json file (<c>exec --process</c>).</summary>
    public static OciProcess LoadProcess(string path)
    {
        string json;
        try
        {
            json = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigException($"{path}: {e.Message}", e);
        }
        return ParseProcess(json, Path.GetFileName(path));
    }

    /// <summary>Parses a linux.resources document (<c>update --resources</c>).</summary>
    public static OciResources ParseResources(string json, string sourceName)
    {
        if (json.Length > MaxSize)
            throw new ConfigException($"{sourceName}: larger than the {MaxSize / (1024 * 1024)} MiB limit");
        try
        {
            return JsonSerializer.Deserialize(json, OciJsonContext.Default.OciResources)
                ?? throw new ConfigException($"{sourceName}: expected a JSON object, got null");
        }
        catch (JsonException e)
        {
            throw new ConfigException(Describe(e, sourceName), e);
        }
    }

    /// <summary>config.json text as <c>supervisor spec</c> writes it (indented, nulls omitted).</summary>
    public static string Serialize(OciSpec spec) => JsonSerializer.Serialize(spec, OciJsonContext.Default.OciSpec);

    private const string ConvertPrefix = "The JSON value could not be converted to ";

    /// <summary>
    /// One line for a System.Text.Json failure. A value of the wrong type is reported by its field path
    /// (e.g. <c>process.user.uid: expected a number</c>); a syntax error by its 1-based line.
    /// </summary>
    internal static string Describe(JsonException e, string sourceName)
    {
        var line = e.LineNumber is { } l ? l + 1 : (long?)null;
        var msg = e.Message;
        var path = FieldPath(e.Path);
        if (msg.StartsWith(ConvertPrefix, StringComparison.Ordinal))
            return $"{sourceName}: {path}: expected {Expected(e.Path)}";
        if (e.Message.Contains("maximum configured depth", StringComparison.Ordinal))
            return $"{sourceName}: JSON nested deeper than {MaxDepth} levels" + (line is { } d ? $" at line {d}" : "");
        var core = StripPosition(msg);
        return line is { } ln
            ? $"{sourceName}: invalid JSON at line {ln}: {core}"
            : $"{sourceName}: invalid JSON: {core}";
    }

    private static string FieldPath(string? jsonPath)
    {
        if (string.IsNullOrEmpty(jsonPath) || jsonPath == "$") return "(top level)";
        var p = jsonPath.StartsWith("$.", StringComparison.Ordinal) ? jsonPath[2..] : jsonPath.TrimStart('$');
        // ['key.with.dots'] → ["key.with.dots"] for readability.
        return p.Replace("['", "[\"", StringComparison.Ordinal).Replace("']", "\"]", StringComparison.Ordinal);
    }

    /// <summary>
    /// What the member at a JSON path should hold, found by walking the source-generated metadata (the
    /// exception itself names only the enclosing type in the generated fast path).
    /// </summary>
    private static string Expected(string? jsonPath)
    {
        JsonTypeInfo? info = OciJsonContext.Default.OciSpec;
        foreach (var seg in Segments(jsonPath))
        {
            if (info is null) break;
            if (seg is null || info.Kind == JsonTypeInfoKind.Dictionary)
                info = info.ElementType is { } et ? OciJsonContext.Default.GetTypeInfo(et) : null;
            else
            {
                var prop = info.Properties.FirstOrDefault(p => p.Name == seg);
                info = prop is null ? null : OciJsonContext.Default.GetTypeInfo(prop.PropertyType);
            }
        }
        if (info is null) return "a value of another type";
        return info.Kind switch
        {
            JsonTypeInfoKind.Enumerable => "an array",
            JsonTypeInfoKind.Dictionary or JsonTypeInfoKind.Object => "an object",
            _ => Describe(Nullable.GetUnderlyingType(info.Type) ?? info.Type),
        };
    }

    private static string Describe(Type t) =>
        t == typeof(ushort) ? "a number (0..65535)"
        : t == typeof(uint) ? "a number (0..4294967295)"
        : t == typeof(ulong) ? "a number (0..18446744073709551615)"
        : t == typeof(int) ? "a number (32-bit signed integer)"
        : t == typeof(long) ? "a number (64-bit signed integer)"
        : t == typeof(bool) ? "a boolean"
        : t == typeof(string) ? "a string"
        : "a value of another type";

    /// <summary>Splits "$.a.b[2]['c.d']" into "a", "b", null (an index), "c.d".</summary>
    private static IEnumerable<string?> Segments(string? jsonPath)
    {
        if (string.IsNullOrEmpty(jsonPath)) yield break;
        var i = jsonPath.StartsWith('$') ? 1 : 0;
        while (i < jsonPath.Length)
        {
            if (jsonPath[i] == '.')
            {
                var j = i + 1;
                while (j < jsonPath.Length && jsonPath[j] != '.' && jsonPath[j] != '[') j++;
                yield return jsonPath[(i + 1)..j];
                i = j;
            }
            else if (jsonPath.AsSpan(i).StartsWith("['"))
            {
                var end = jsonPath.IndexOf("']", i + 2, StringComparison.Ordinal);
                if (end < 0) yield break;
                yield return jsonPath[(i + 2)..end];
                i = end + 2;
            }
            else if (jsonPath[i] == '[')
            {
                var end = jsonPath.IndexOf(']', i);
                if (end < 0) yield break;
                yield return null;
                i = end + 1;
            }
            else yield break;
        }
    }

    private static string StripPosition(string message)
    {
        foreach (var marker in new[] { " Path: ", " LineNumber: " })
        {
            var i = message.IndexOf(marker, StringComparison.Ordinal);
            if (i >= 0) message = message[..i];
        }
        message = message.Trim();
        return message.EndsWith('.') ? message[..^1] : message;
    }
}
