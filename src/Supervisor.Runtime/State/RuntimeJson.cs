using System.Text.Json;
using System.Text.Json.Serialization;
using Supervisor.Runtime.Configs;

namespace Supervisor.Runtime.State;

/// <summary>
/// Source-generated JSON for the runtime's own files (state.json, exit.json) and the OCI state output.
/// Reflection-based serialization is not available in the NativeAOT CLI.
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UseStringEnumConverter = true)]
[JsonSerializable(typeof(StateFile))]
[JsonSerializable(typeof(ExitRecord))]
[JsonSerializable(typeof(OciState))]
[JsonSerializable(typeof(List<OciState>))]
[JsonSerializable(typeof(ContainerConfig))]
[JsonSerializable(typeof(SeccompConfig))]
internal sealed partial class RuntimeJsonContext : JsonSerializerContext;

/// <summary>Indented variants for what users read.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    WriteIndented = true)]
[JsonSerializable(typeof(OciState))]
[JsonSerializable(typeof(List<OciState>))]
internal sealed partial class RuntimeJsonIndentedContext : JsonSerializerContext;

public static class RuntimeJson
{
    public static string SerializeState(OciState s) => JsonSerializer.Serialize(s, RuntimeJsonIndentedContext.Default.OciState);

    public static string SerializeStates(List<OciState> s) => JsonSerializer.Serialize(s, RuntimeJsonIndentedContext.Default.ListOciState);

    public static string SerializeStatesCompact(List<OciState> s) => JsonSerializer.Serialize(s, RuntimeJsonContext.Default.ListOciState);

    /// <summary>Builds the serializer metadata of state.json ahead of its first real use.</summary>
    internal static void Warm()
    {
        var sample = new StateFile
        {
            Id = "warm",
            Bundle = "/",
            Rootfs = "/",
            Config = new ContainerConfig { Rootfs = "/", Process = new ProcessConfig() },
        };
        JsonSerializer.SerializeToUtf8Bytes(sample, RuntimeJsonContext.Default.StateFile);
    }
}
