using System.Runtime.Serialization;
using Akka.Actor;
using Akka.Configuration;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Supervisor.Protocol;
using Supervisor.Protocol.V1;

namespace Supervisor.Remote.Tests;

/// <summary>
/// The wire protocol through Akka's serialization, in a system with Akka.Remote loaded (whose own binding
/// claims every Google.Protobuf.IMessage): every message round-trips through our serializer, unknown fields
/// survive, and nothing outside supervisor.proto can be built from a manifest.
/// </summary>
public sealed class ProtocolTests : IDisposable
{
    private readonly ActorSystem _system = ActorSystem.Create("protocol-tests", ConfigurationFactory.ParseString("""
        akka.actor.provider = remote
        akka.remote.dot-netty.tcp { hostname = 127.0.0.1, port = 0 }
        akka.loglevel = WARNING
        """).WithFallback(ControlProtocolSerializer.ControlPlaneConfig()));

    public void Dispose() => _system.Terminate().Wait(TimeSpan.FromSeconds(10));

    public static TheoryData<string> AllMessages()
    {
        var data = new TheoryData<string>();
        foreach (var d in ControlProtocolSerializer.Messages)
            data.Add(d.FullName);
        return data;
    }

    [Fact]
    public void Every_generated_message_carries_the_marker_and_every_reply_the_reply_interface()
    {
        var generated = typeof(ControlProtocolSerializer).Assembly.GetTypes()
            .Where(t => typeof(IMessage).IsAssignableFrom(t) && t.IsClass && t.Namespace == "Supervisor.Protocol.V1")
            .ToList();
        Assert.Equal(ControlProtocolSerializer.Messages.Count, generated.Count);
        foreach (var t in generated)
        {
            Assert.True(typeof(IControlMessage).IsAssignableFrom(t), $"{t.Name} lacks IControlMessage (add it in Markers.cs)");
            if (t.Name.EndsWith("Reply", StringComparison.Ordinal))
                Assert.True(typeof(IControlReply).IsAssignableFrom(t), $"{t.Name} lacks IControlReply");
        }
    }

    [Theory]
    [MemberData(nameof(AllMessages))]
    public void Message_round_trips_through_the_akka_serializer_with_every_field_set(string fullName)
    {
        var descriptor = ControlProtocolSerializer.Messages.Single(d => d.FullName == fullName);
        var message = (IMessage)descriptor.Parser.ParseFrom([]);
        Populate(message, depth: 0);
        if (descriptor.Fields.InDeclarationOrder().Count > 0)
            Assert.NotEqual(descriptor.Parser.ParseFrom([]), message);

        var serializer = _system.Serialization.FindSerializerFor(message);
        Assert.IsType<ControlProtocolSerializer>(serializer);
        var manifest = Akka.Serialization.Serialization.ManifestFor(serializer, message);
        Assert.Equal(fullName, manifest);
        var bytes = serializer.ToBinary(message);
        var back = _system.Serialization.Deserialize(bytes, serializer.Identifier, manifest);
        Assert.Equal(message, back);
        Assert.Equal(message.GetType(), back.GetType());
    }

    [Fact]
    public void Unknown_fields_from_a_newer_peer_survive_a_round_trip()
    {
        var run = new RunContainer { Id = "web", Bundle = "/srv/bundles/web" };
        // A newer peer's fields 900 (varint) and 901 (string), unknown to this schema.
        var extra = new MemoryStream();
        var cos = new CodedOutputStream(extra);
        cos.WriteTag(900, WireFormat.WireType.Varint);
        cos.WriteInt64(424242);
        cos.WriteTag(901, WireFormat.WireType.LengthDelimited);
        cos.WriteString("from the future");
        cos.Flush();
        var wire = run.ToByteArray().Concat(extra.ToArray()).ToArray();

        var serializer = _system.Serialization.FindSerializerFor(run);
        var parsed = (RunContainer)_system.Serialization.Deserialize(wire, serializer.Identifier, RunContainer.Descriptor.FullName);
        Assert.Equal("web", parsed.Id);
        var again = serializer.ToBinary(parsed);
        Assert.Equal(wire, again);

        // Inside an envelope too: the signed command bytes are carried untouched.
        var envelope = new SignedCommand { RequestId = "r1", Command = ByteString.CopyFrom(wire) };
        var envBack = (SignedCommand)_system.Serialization.Deserialize(serializer.ToBinary(envelope), serializer.Identifier, SignedCommand.Descriptor.FullName);
        Assert.Equal(wire, envBack.Command.ToByteArray());
    }

    [Fact]
    public void A_manifest_outside_the_protocol_is_refused()
    {
        var serializer = _system.Serialization.FindSerializerFor(new GetState());
        Assert.Throws<SerializationException>(() =>
            _system.Serialization.Deserialize([], serializer.Identifier, "System.Diagnostics.Process, System.Diagnostics.Process"));
        Assert.Throws<SerializationException>(() =>
            _system.Serialization.Deserialize([0xff, 0xff, 0xff], serializer.Identifier, GetState.Descriptor.FullName));
    }

    [Fact]
    public void In_the_control_plane_config_other_protobuf_messages_go_nowhere()
    {
        // Akka.Remote's own protobuf serializer would put the CLR type on the wire and build any IMessage
        // type a frame names; in the control plane every IMessage is bound to ours, which refuses strangers.
        var foreign = new Google.Protobuf.WellKnownTypes.Duration { Seconds = 5 };
        var serializer = _system.Serialization.FindSerializerFor(foreign);
        Assert.IsType<ControlProtocolSerializer>(serializer);
        Assert.Throws<ArgumentException>(() => serializer.ToBinary(foreign));
        Assert.Throws<SerializationException>(() =>
            _system.Serialization.Deserialize([], serializer.Identifier, Google.Protobuf.WellKnownTypes.Duration.Descriptor.FullName));
    }

    [Fact]
    public void Signature_covers_id_timestamp_and_command_bytes()
    {
        var a = RequestSignature.Payload("id", 5, [1, 2, 3]);
        Assert.NotEqual(a, RequestSignature.Payload("id", 6, [1, 2, 3]));
        Assert.NotEqual(a, RequestSignature.Payload("ie", 5, [1, 2, 3]));
        Assert.NotEqual(a, RequestSignature.Payload("id", 5, [1, 2, 4]));
        // The id is length-prefixed, so moving a byte between the id and the command changes the payload.
        Assert.NotEqual(RequestSignature.Payload("ab", 5, [1]), RequestSignature.Payload("a", 5, [(byte)'b', 1]));
    }

    /// <summary>Sets every field to a non-default value (the last case of each oneof wins), nested messages two levels deep.</summary>
    private static void Populate(IMessage message, int depth)
    {
        int n = 1;
        foreach (var field in message.Descriptor.Fields.InDeclarationOrder())
        {
            n++;
            if (field.IsMap)
            {
                var map = (System.Collections.IDictionary)field.Accessor.GetValue(message);
                var valueField = field.MessageType.FindFieldByNumber(2);
                map[Sample(field.MessageType.FindFieldByNumber(1), n)!] = Sample(valueField, n + 1) ?? NewMessage(valueField, depth);
                continue;
            }
            if (field.IsRepeated)
            {
                var list = (System.Collections.IList)field.Accessor.GetValue(message);
                list.Add(field.FieldType == FieldType.Message ? NewMessage(field, depth) : Sample(field, n));
                continue;
            }
            if (field.FieldType == FieldType.Message)
            {
                if (depth < 2)
                    field.Accessor.SetValue(message, NewMessage(field, depth));
                continue;
            }
            field.Accessor.SetValue(message, Sample(field, n)!);
        }
    }

    private static IMessage NewMessage(FieldDescriptor field, int depth)
    {
        var m = (IMessage)field.MessageType.Parser.ParseFrom([]);
        Populate(m, depth + 1);
        return m;
    }

    private static object? Sample(FieldDescriptor f, int n) => f.FieldType switch
    {
        FieldType.String => $"value-{f.Name}-{n}",
        FieldType.Bytes => ByteString.CopyFrom([(byte)n, 0xAB, 0xCD]),
        FieldType.Bool => true,
        FieldType.Int32 or FieldType.SInt32 or FieldType.SFixed32 => -n * 1000,
        FieldType.UInt32 or FieldType.Fixed32 => (uint)(n * 1000),
        FieldType.Int64 or FieldType.SInt64 or FieldType.SFixed64 => -(long)n * 1_000_000_007L,
        FieldType.UInt64 or FieldType.Fixed64 => (ulong)n * 1_000_000_007UL,
        FieldType.Double => n + 0.5,
        FieldType.Float => n + 0.25f,
        FieldType.Enum => f.EnumType.Values[^1].Number,
        FieldType.Message => null,
        _ => throw new NotSupportedException(f.FieldType.ToString()),
    };
}
