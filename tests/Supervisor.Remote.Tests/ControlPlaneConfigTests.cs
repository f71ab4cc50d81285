using System.Runtime.Serialization;
using System.Text;
using Akka.Actor;
using Akka.Configuration;
using Supervisor.Protocol;
using Supervisor.Protocol.V1;
using Supervisor.Remote.Hosting;
using Supervisor.Remote.Security;

namespace Supervisor.Remote.Tests;

/// <summary>The control plane's settings and the Akka configuration they produce.</summary>
public sealed class ControlPlaneConfigTests
{
    private static Config Site(string remote) => ConfigurationFactory.ParseString($"supervisor.remote {{ {remote} }}");

    private const string Minimal = """
        tls { ca = "/etc/sv/ca.crt", certificate = "/etc/sv/node.crt", key = "/etc/sv/node.key" }
        allowed-subjects = ["CN=admin, OU=admin, O=Test"]
        """;

    [Theory]
    [InlineData("", "tls.ca is not set")]
    [InlineData("tls { ca = \"/c\", certificate = \"/n.crt\" }\nallowed-subjects = [\"CN=a\"]", "tls.key is not set")]
    [InlineData("""tls { ca = "/c", certificate = "/n.crt", key = "/n.key" }""", "no client could connect")]
    [InlineData(Minimal + "\nhostname = \"\"", "would bind every interface")]
    [InlineData(Minimal + "\nrequest-max-age = 10m, dedup.window = 10m", "at least twice request-max-age")]
    [InlineData(Minimal + "\npolicy.allowed-bind-roots = [\"data\"]", "not an absolute path")]
    public void Remote_control_without_tls_or_an_allowlist_is_a_configuration_error(string remote, string message)
    {
        var e = Assert.Throws<ConfigurationException>(() => RemoteControlSettings.Create(Site(remote), "/run/sv"));
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void Defaults_are_loopback_port_4053_and_a_bounded_frame()
    {
        var s = RemoteControlSettings.Create(Site(Minimal), "/run/sv");
        Assert.Equal("127.0.0.1", s.Hostname);
        Assert.Equal(4053, s.Port);
        Assert.Equal(256_000, s.MaximumFrameSize);
        Assert.Equal("/run/sv-bundles", s.BundleDir);
        var akka = s.ToAkkaConfig();
        Assert.True(akka.GetBoolean("akka.remote.untrusted-mode"));
        Assert.Equal(["/user/control-gateway"], akka.GetStringList("akka.remote.trusted-selection-paths"));
        Assert.True(akka.GetBoolean("akka.remote.dot-netty.tcp.enable-ssl"));
        Assert.True(akka.GetBoolean("akka.remote.dot-netty.tcp.ssl.require-mutual-authentication"));
        Assert.False(akka.GetBoolean("akka.remote.dot-netty.tcp.ssl.suppress-validation"));
        Assert.Equal("127.0.0.1", akka.GetString("akka.remote.dot-netty.tcp.hostname"));
    }

    [Fact]
    public async Task The_control_plane_system_refuses_akkas_type_naming_json_serializer()
    {
        var s = RemoteControlSettings.Create(Site(Minimal), "/run/sv");
        // The transport settings are irrelevant to serialization; TLS is left out so no certificate is needed.
        var config = ConfigurationFactory.ParseString("akka.remote.dot-netty.tcp { enable-ssl = false, port = 0 }").WithFallback(s.ToAkkaConfig());
        var system = ActorSystem.Create("control-config-test", config);
        try
        {
            var other = system.Serialization.FindSerializerFor(new Uri("http://example"));
            Assert.IsType<RefusingSerializer>(other);
            Assert.Throws<SerializationException>(() => other.ToBinary(new Uri("http://example")));
            // A JSON payload naming a type to build (the classic gadget shape) under serializer id 1.
            var gadget = Encoding.UTF8.GetBytes("""{"$type":"System.IO.FileInfo, System.Private.CoreLib","fileName":"/etc/passwd"}""");
            Assert.Throws<SerializationException>(() => system.Serialization.Deserialize(gadget, 1, ""));
            Assert.IsType<ControlProtocolSerializer>(system.Serialization.FindSerializerFor(new GetState()));

            // Kill is not IPossiblyHarmful, so untrusted mode would deliver it: it cannot be built from the wire.
            var misc = system.Serialization.FindSerializerFor(Kill.Instance);
            Assert.IsType<KillRefusingMiscSerializer>(misc);
            var killBytes = misc.ToBinary(Kill.Instance);
            var killManifest = Akka.Serialization.Serialization.ManifestFor(misc, Kill.Instance);
            Assert.Throws<SerializationException>(() => system.Serialization.Deserialize(killBytes, misc.Identifier, killManifest));
            // Everything else it carries still works.
            // Akka.Remote's protobuf serializer (id 2) would build any protobuf type a manifest names.
            // (Akka's own would parse these empty bytes as a GetState.)
            Assert.Throws<SerializationException>(() => system.Serialization.Deserialize([], 2, typeof(GetState).AssemblyQualifiedName));
            // A Status.Failure's exception, and a Failed system message's, are rebuilt from a type name: refused.
            var failure = new Status.Failure(new InvalidOperationException("x"));
            Assert.Throws<SerializationException>(() => system.Serialization.Deserialize(misc.ToBinary(failure), misc.Identifier, Akka.Serialization.Serialization.ManifestFor(misc, failure)));
            var sysmsg = system.Serialization.FindSerializerForType(typeof(Akka.Dispatch.SysMsg.Failed));
            Assert.IsType<FailedRefusingSystemMessageSerializer>(sysmsg);
            Assert.Throws<SerializationException>(() => system.Serialization.Deserialize([], 22, typeof(Akka.Dispatch.SysMsg.Failed).AssemblyQualifiedName));
            var identify = new Identify("x");
            var back = system.Serialization.Deserialize(misc.ToBinary(identify), misc.Identifier, Akka.Serialization.Serialization.ManifestFor(misc, identify));
            Assert.Equal("x", ((Identify)back).MessageId);
        }
        finally
        {
            await system.Terminate();
        }
    }
}
