using System.Runtime.Serialization;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Akka.Actor;
using Akka.Serialization;

namespace Supervisor.Cluster;

/// <summary>
/// Serializes every <see cref="IClusterMessage"/> as UTF-8 JSON through a source-generated context (no
/// reflection), with the record's short type name as the manifest. Records are versioned the JSON way: a
/// new property gets a default and old readers skip it, so mixed-version nodes keep talking.
/// The identifier is written to the wire and must never change.
/// </summary>
public sealed class ClusterMessageSerializer(ExtendedActorSystem system) : SerializerWithStringManifest(system)
{
    public const int SerializerId = 4751;

    private static readonly Dictionary<Type, (string Manifest, JsonTypeInfo Info)> ByType;
    private static readonly Dictionary<string, JsonTypeInfo> ByManifest;

    static ClusterMessageSerializer()
    {
        var ctx = ClusterJsonContext.Default;
        JsonTypeInfo[] infos =
        [
            ctx.RunWorkload, ctx.RemoveWorkload, ctx.GetWorkload, ctx.MigrateWorkload, ctx.WorkloadState, ctx.WorkloadStatus,
            ctx.WorkloadCommandFailed, ctx.MigrationReport, ctx.NodeLoad, ctx.PlaceContainer, ctx.ContainerPlaced, ctx.PlaceFailed,
            ctx.RemoveContainerFromNode, ctx.ContainerRemovedFromNode, ctx.ChooseNode, ctx.NodeChoice, ctx.ListNodeContainers,
            ctx.NodeContainerList, ctx.ListClusterContainers, ctx.ClusterContainerList, ctx.MigrateOut, ctx.IncomingMigration,
            ctx.ImageChunk, ctx.RestoreIncoming, ctx.AbortIncoming, ctx.MigrationStep, ctx.GetPlacementView, ctx.PlacementView,
            ctx.GetNodeContainer, ctx.NodeContainerState,
            ctx.NodeContainerCommand, ctx.NodeCommandResult,
        ];
        ByType = infos.ToDictionary(i => i.Type, i => (i.Type.Name, i));
        ByManifest = infos.ToDictionary(i => i.Type.Name, i => i, StringComparer.Ordinal);
    }

    /// <summary>Every message type this serializer handles (the tests round-trip each one).</summary>
    public static IReadOnlyCollection<Type> Types => ByType.Keys;

    public override int Identifier => SerializerId;

    public override string Manifest(object o) =>
        ByType.TryGetValue(o.GetType(), out var e) ? e.Manifest : throw new ArgumentException($"no cluster manifest for {o.GetType().FullName}", nameof(o));

    public override byte[] ToBinary(object obj) =>
        ByType.TryGetValue(obj.GetType(), out var e)
            ? JsonSerializer.SerializeToUtf8Bytes(obj, e.Info)
            : throw new ArgumentException($"cannot serialize {obj.GetType().FullName}", nameof(obj));

    public override object FromBinary(byte[] bytes, string manifest)
    {
        if (!ByManifest.TryGetValue(manifest, out var info))
            throw new SerializationException($"unknown cluster message manifest \"{manifest}\"");
        return JsonSerializer.Deserialize(bytes, info) ?? throw new SerializationException($"empty {manifest} message");
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(string))]
[JsonSerializable(typeof(RunWorkload))]
[JsonSerializable(typeof(RemoveWorkload))]
[JsonSerializable(typeof(GetWorkload))]
[JsonSerializable(typeof(MigrateWorkload))]
[JsonSerializable(typeof(WorkloadState))]
[JsonSerializable(typeof(WorkloadStatus))]
[JsonSerializable(typeof(WorkloadCommandFailed))]
[JsonSerializable(typeof(MigrationReport))]
[JsonSerializable(typeof(NodeLoad))]
[JsonSerializable(typeof(PlaceContainer))]
[JsonSerializable(typeof(ContainerPlaced))]
[JsonSerializable(typeof(PlaceFailed))]
[JsonSerializable(typeof(RemoveContainerFromNode))]
[JsonSerializable(typeof(ContainerRemovedFromNode))]
[JsonSerializable(typeof(ChooseNode))]
[JsonSerializable(typeof(NodeChoice))]
[JsonSerializable(typeof(ListNodeContainers))]
[JsonSerializable(typeof(NodeContainerList))]
[JsonSerializable(typeof(ListClusterContainers))]
[JsonSerializable(typeof(ClusterContainerList))]
[JsonSerializable(typeof(MigrateOut))]
[JsonSerializable(typeof(IncomingMigration))]
[JsonSerializable(typeof(ImageChunk))]
[JsonSerializable(typeof(RestoreIncoming))]
[JsonSerializable(typeof(AbortIncoming))]
[JsonSerializable(typeof(MigrationStep))]
[JsonSerializable(typeof(GetPlacementView))]
[JsonSerializable(typeof(PlacementView))]
[JsonSerializable(typeof(GetNodeContainer))]
[JsonSerializable(typeof(NodeContainerState))]
[JsonSerializable(typeof(NodeContainerCommand))]
[JsonSerializable(typeof(NodeCommandResult))]
internal sealed partial class ClusterJsonContext : JsonSerializerContext;
