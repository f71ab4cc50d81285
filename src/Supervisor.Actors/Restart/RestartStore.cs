using System.Text.Json;
using System.Text.Json.Serialization;
using Supervisor.Runtime.State;

namespace Supervisor.Actors.Restart;

/// <summary>
/// Persists each container's <see cref="RestartRecord"/> atomically (temp file, fsync, rename, fsync of
/// the directory) as <c>&lt;state-root&gt;/.supervisor/&lt;id&gt;.json</c>.
/// The record lives beside the container directories rather than inside <c>&lt;state-root&gt;/&lt;id&gt;</c>:
/// an automatic restart deletes and re-creates the container (a new init, new cgroups, a fresh state
/// directory), and a count kept inside that directory would be lost if the daemon died between the two.
/// The runtime lists only directories holding a state.json, so the CLI's <c>list</c> never shows this one.
/// </summary>
public sealed class RestartStore
{
    public const string DirectoryName = ".supervisor";

    public RestartStore(string stateRoot)
    {
        Dir = Path.Combine(Path.GetFullPath(stateRoot), DirectoryName);
    }

    public string Dir { get; }

    public string PathOf(string id) => Path.Combine(Dir, id + ".json");

    /// <summary>The stored record, or null when there is none or it cannot be parsed (never fatal: a
    /// lost record only forgets counters, it must not keep a container from being adopted).</summary>
    public RestartRecord? Read(string id)
    {
        try
        {
            var bytes = File.ReadAllBytes(PathOf(id));
            return JsonSerializer.Deserialize(bytes, RestartJsonContext.Default.RestartRecord);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or JsonException)
        {
            return null;
        }
    }

    public void Write(string id, RestartRecord record)
    {
        Directory.CreateDirectory(Dir);
        AtomicFile.Write(PathOf(id), JsonSerializer.SerializeToUtf8Bytes(record, RestartJsonContext.Default.RestartRecord));
    }

    public void Remove(string id)
    {
        try
        {
            File.Delete(PathOf(id));
        }
        catch (DirectoryNotFoundException)
        {
        }
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(RestartRecord))]
internal sealed partial class RestartJsonContext : JsonSerializerContext;
