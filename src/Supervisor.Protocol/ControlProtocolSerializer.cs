using System.Collections.Frozen;
using System.Runtime.Serialization;
using Akka.Actor;
using Akka.Serialization;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Supervisor.Protocol.V1;

namespace Supervisor.Protocol;

/// <summary>
/// The Akka serializer of the control protocol. The manifest is the message's full protobuf name
/// ("supervisor.v1.RunContainer"), never a CLR type name, and only the messages of supervisor.proto can
/// be built from the wire: an unknown manifest is a <see cref="SerializationException"/>, so a frame cannot
/// make the receiver instantiate a type of its choosing. Unknown fields inside a known message are kept
/// (Google.Protobuf preserves them), which is what lets old and new peers relay each other's messages.
/// </summary>
public sealed class ControlProtocolSerializer : SerializerWithStringManifest
{
    /// <summary>Written into every frame; never change it.</summary>
    public const int SerializerId = 7301;

    /// <summary>The name HOCON binds (reference.conf).</summary>
    public const string Name = "supervisor-control";

    private static readonly FrozenDictionary<string, MessageParser> Parsers =
        SupervisorReflection.Descriptor.MessageTypes.ToFrozenDictionary(d => d.FullName, d => d.Parser, StringComparer.Ordinal);

    public ControlProtocolSerializer(ExtendedActorSystem system)
        : base(system)
    {
    }

    public override int Identifier => SerializerId;

    /// <summary>Every top-level message of supervisor.proto, by manifest.</summary>
    public static IList<MessageDescriptor> Messages => SupervisorReflection.Descriptor.MessageTypes;

    public override string Manifest(object o) => o switch
    {
        IControlMessage m => m.Descriptor.FullName,
        _ => throw new ArgumentException($"{o.GetType().FullName} is not a control protocol message", nameof(o)),
    };

    public override byte[] ToBinary(object obj) => obj switch
    {
        IControlMessage m => m.ToByteArray(),
        _ => throw new ArgumentException($"{obj.GetType().FullName} is not a control protocol message", nameof(obj)),
    };

    public override object FromBinary(byte[] bytes, string manifest)
    {
        if (!Parsers.TryGetValue(manifest, out var parser))
            throw new SerializationException($"unknown control protocol message \"{manifest}\"");
        try
        {
            return parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new SerializationException($"malformed {manifest}: {e.Message}", e);
        }
    }

    /// <summary>The binding as HOCON (also in the embedded reference.conf).</summary>
    public static Akka.Configuration.Config DefaultConfig() =>
        Akka.Configuration.ConfigurationFactory.FromResource("Supervisor.Protocol.reference.conf", typeof(ControlProtocolSerializer).Assembly);
}
