using Akka.Configuration;
using Supervisor.Remote.Policy;

namespace Supervisor.Remote.Hosting;

/// <summary>
/// The <c>supervisor.remote</c> section, typed (every key is described in config/remote-dev.conf). There is no
/// way to configure the control plane without TLS: a missing CA, certificate or allowlist is a configuration
/// error, because an unauthenticated actor that starts processes as root is remote code execution.
/// </summary>
public sealed record RemoteControlSettings(
    string SystemName,
    string Hostname,
    int Port,
    long MaximumFrameSize,
    string CaPath,
    string CertificatePath,
    string? KeyPath,
    string? Password,
    IReadOnlyList<string> AllowedSubjects,
    IReadOnlyList<string> AllowedThumbprints,
    TimeSpan RequestMaxAge,
    int DedupCapacity,
    TimeSpan DedupWindow,
    PolicySettings Policy,
    string BundleDir,
    string NodeName,
    TimeSpan AskTimeout,
    int MaxSubscriptions)
{
    public const string GatewayName = "control-gateway";

    /// <summary>
    /// The port clients address when it differs from the one bound (a relay or NAT in between); 0 means the
    /// bound port. Akka.Remote drops a message whose recipient address is not its own, so clients must use
    /// the advertised one.
    /// </summary>
    public int PublicPort { get; init; }

    public const string GatewayPath = "/user/" + GatewayName;

    /// <summary>Reads <c>supervisor.remote</c> from <paramref name="root"/>; throws <see cref="ConfigurationException"/> naming the key at fault.</summary>
    public static RemoteControlSettings Create(Config root, string stateRoot)
    {
        if (!root.HasPath("supervisor.remote"))
            throw new ConfigurationException("supervisor.remote: section missing");
        var c = root.GetConfig("supervisor.remote");
        string Req(string key)
        {
            var v = c.GetString(key, "");
            if (string.IsNullOrWhiteSpace(v))
                throw new ConfigurationException(
                    $"supervisor.remote.{key} is not set: remote control needs mutual TLS (tls.ca, tls.certificate, tls.key) and an allowlist; it never listens unauthenticated");
            return v;
        }
        var ca = Req("tls.ca");
        var cert = Req("tls.certificate");
        var key = c.GetString("tls.key", "");
        var isPkcs12 = cert.EndsWith(".pfx", StringComparison.OrdinalIgnoreCase) || cert.EndsWith(".p12", StringComparison.OrdinalIgnoreCase);
        if (!isPkcs12 && string.IsNullOrWhiteSpace(key))
            throw new ConfigurationException("supervisor.remote.tls.key is not set: a PEM certificate needs its PEM key (or give a .pfx)");
        var subjects = c.GetStringList("allowed-subjects") ?? [];
        var thumbprints = c.GetStringList("allowed-thumbprints") ?? [];
        if (subjects.Count == 0 && thumbprints.Count == 0)
            throw new ConfigurationException("supervisor.remote: allowed-subjects and allowed-thumbprints are both empty, so no client could connect");

        var port = c.GetInt("port", 4053);
        if (port is < 0 or > 65535)
            throw new ConfigurationException($"supervisor.remote.port: {port} is not a port");
        var hostname = c.GetString("hostname", "127.0.0.1");
        if (string.IsNullOrWhiteSpace(hostname))
            throw new ConfigurationException("supervisor.remote.hostname must be an address (an empty one would bind every interface)");
        var frame = c.GetByteSize("maximum-frame-size") ?? 256_000;
        if (frame is < 32_000 or > 16 * 1024 * 1024)
            throw new ConfigurationException("supervisor.remote.maximum-frame-size must be between 32000b and 16MiB");
        var maxAge = c.GetTimeSpan("request-max-age", TimeSpan.FromSeconds(60));
        var window = c.GetTimeSpan("dedup.window", TimeSpan.FromMinutes(10));
        if (maxAge <= TimeSpan.Zero)
            throw new ConfigurationException("supervisor.remote.request-max-age must be positive");
        // A request must be remembered for as long as it could still be accepted (its timestamp is checked
        // either way around "now"), or a replay just inside the freshness window could run twice.
        if (window < maxAge + maxAge)
            throw new ConfigurationException("supervisor.remote.dedup.window must be at least twice request-max-age");
        var capacity = c.GetInt("dedup.capacity", 4096);
        if (capacity < 1)
            throw new ConfigurationException("supervisor.remote.dedup.capacity must be at least 1");

        var caps = c.GetStringList("policy.operator-capabilities");
        var policy = new PolicySettings(
            Paths(c, "policy.allowed-bundle-roots"),
            Paths(c, "policy.allowed-bind-roots"),
            Paths(c, "policy.allowed-image-roots"),
            caps is { Count: > 0 }
                ? new HashSet<string>(caps.Select(x => x.StartsWith("CAP_", StringComparison.Ordinal) ? x : "CAP_" + x.ToUpperInvariant()), StringComparer.Ordinal)
                : PolicySettings.DefaultCapabilities);

        var bundleDir = c.GetString("bundle-dir", "");
        if (string.IsNullOrWhiteSpace(bundleDir))
            bundleDir = Path.GetFullPath(stateRoot).TrimEnd('/') + "-bundles";
        var node = c.GetString("node-name", "");
        if (string.IsNullOrWhiteSpace(node))
            node = Environment.MachineName;

        var publicPort = c.GetInt("public-port", 0);
        if (publicPort is < 0 or > 65535)
            throw new ConfigurationException($"supervisor.remote.public-port: {publicPort} is not a port");

        return new RemoteControlSettings(
            c.GetString("system-name", "supervisor-control"),
            hostname,
            port,
            frame,
            ca,
            cert,
            string.IsNullOrWhiteSpace(key) ? null : key,
            NullIfEmpty(c.GetString("tls.password", "")),
            subjects.ToList(),
            thumbprints.ToList(),
            maxAge,
            capacity,
            window,
            policy,
            Path.GetFullPath(bundleDir),
            node,
            c.GetTimeSpan("ask-timeout", TimeSpan.FromSeconds(30)),
            c.GetInt("max-subscriptions", 64))
        {
            PublicPort = publicPort,
        };
    }

    private static IReadOnlyList<string> Paths(Config c, string key)
    {
        var list = c.GetStringList(key) ?? [];
        foreach (var p in list)
        {
            if (!Path.IsPathRooted(p))
                throw new ConfigurationException($"supervisor.remote.{key}: \"{p}\" is not an absolute path");
        }
        return list.Select(Path.GetFullPath).ToList();
    }

    private static string? NullIfEmpty(string s) => string.IsNullOrEmpty(s) ? null : s;

    /// <summary>The HOCON of the control plane's own ActorSystem.</summary>
    public Config ToAkkaConfig() => ConfigurationFactory.ParseString($$"""
        akka {
          loglevel = INFO
          actor.provider = remote
          # Akka's JSON serializer (id 1) reads CLR type names from the wire; it is replaced by one that refuses.
          actor.serializers.json = "Supervisor.Remote.Security.RefusingSerializer, Supervisor.Remote"
          # Akka.Remote's protobuf serializer (id 2) builds any protobuf type a frame names by CLR type name.
          actor.serializers.proto = "Supervisor.Remote.Security.ProtobufRefusingSerializer, Supervisor.Remote"
          # Untrusted mode does not drop Kill (it is not IPossiblyHarmful in Akka.NET); this refuses to build it,
          # and a Status.Failure, whose exception type the frame names.
          actor.serializers.akka-misc = "Supervisor.Remote.Security.KillRefusingMiscSerializer, Supervisor.Remote"
          # A Failed system message carries an exception whose type the frame names, built before untrusted
          # mode drops the message: refused.
          actor.serializers.akka-system-msg = "Supervisor.Remote.Security.FailedRefusingSystemMessageSerializer, Supervisor.Remote"
          remote {
            # Drops system messages (Watch, Terminate...), remote deployment (DaemonMsgCreate) and
            # IPossiblyHarmful messages (PoisonPill, Kill) from peers; selections reach only the gateway.
            untrusted-mode = on
            trusted-selection-paths = ["{{GatewayPath}}"]
            log-remote-lifecycle-events = info
            dot-netty.tcp {
              hostname = "{{Hostname}}"
              port = {{Port}}
              public-port = {{PublicPort}}
              enable-ssl = true
              maximum-frame-size = {{MaximumFrameSize}}b
              ssl {
                suppress-validation = false
                require-mutual-authentication = true
                validate-certificate-hostname = false
              }
            }
          }
        }
        """).WithFallback(Protocol.ControlProtocolSerializer.ControlPlaneConfig());
}
