using System.Security.Cryptography.X509Certificates;
using Akka.Actor;
using Akka.Actor.Internal;
using Akka.Actor.Setup;
using Akka.Configuration;
using Akka.Event;
using Akka.Remote;
using Supervisor.Protocol;
using Supervisor.Protocol.V1;
using Supervisor.Remote.Hosting;
using Supervisor.Remote.Security;

namespace Supervisor.Remote.Client;

/// <summary>Where and as whom a <see cref="RemoteControlClient"/> connects.</summary>
/// <param name="Host">The daemon's control-plane address (as configured in supervisor.remote.hostname).</param>
/// <param name="CertificatePath">The client certificate (PEM, or .pfx with an empty <paramref name="KeyPath"/>); its OU is the role.</param>
/// <param name="CaPath">The control plane's CA, which the daemon's certificate must chain to.</param>
public sealed record RemoteClientOptions(
    string Host,
    int Port,
    string CertificatePath,
    string? KeyPath,
    string CaPath,
    string SystemName = "supervisor-control",
    string? Password = null)
{
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Called with the name of each start-up step as it completes (phase timings); null: nothing.</summary>
    public Action<string>? Progress { get; init; }
}

/// <summary>A command the daemon could not be asked: no connection, TLS refused, or no reply in time.</summary>
public sealed class RemoteControlException(string message) : Exception(message);

/// <summary>
/// A client of the control plane: a small ActorSystem with Akka.Remote over mutual TLS (loopback, ephemeral
/// port; replies come back on the connection the client opened) that signs every command with its
/// certificate's key. A command whose reply does not come is sent once more with the same request id and
/// timestamp, which the gateway answers from its memory if it did run the first one.
/// </summary>
public sealed class RemoteControlClient : IAsyncDisposable
{
    private readonly RemoteClientOptions _options;
    private readonly X509Certificate2 _certificate;
    private readonly ActorSelection _gateway;
    private readonly IActorRef _associations;
    private readonly TaskCompletionSource<string> _associationError = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private RemoteControlClient(RemoteClientOptions options, X509Certificate2 certificate, ActorSystem system)
    {
        _options = options;
        _certificate = certificate;
        System = system;
        _gateway = system.ActorSelection($"akka.ssl.tcp://{options.SystemName}@{options.Host}:{options.Port}{RemoteControlSettings.GatewayPath}");
        var progress = options.Progress;
        _associations = system.ActorOf(Props.Create<AssociationWatcher>(_associationError, progress));
        system.EventStream.Subscribe(_associations, typeof(AssociationErrorEvent));
        if (progress is not null)
            system.EventStream.Subscribe(_associations, typeof(AssociatedEvent));
    }

    public ActorSystem System { get; }

    public ActorSelection Gateway => _gateway;

    public X509Certificate2 Certificate => _certificate;

    public static RemoteControlClient Connect(RemoteClientOptions options)
    {
        var ca = TlsMaterial.LoadCa(options.CaPath);
        options.Progress?.Invoke("CA loaded");
        var certificate = TlsMaterial.LoadCertificate(options.CertificatePath, options.KeyPath, options.Password);
        var verifier = new CertificateVerifier(ca, CertificateAllowlist.AnyoneOfTheCa);
        options.Progress?.Invoke("certificates loaded");
        var config = ConfigurationFactory.ParseString("""
            akka {
              loglevel = OFF
              stdout-loglevel = OFF
              log-dead-letters = off
              log-config-on-start = off
              actor.provider = remote
              actor.serializers.json = "Supervisor.Remote.Security.RefusingSerializer, Supervisor.Remote"
              remote {
                log-remote-lifecycle-events = off
                untrusted-mode = on
                dot-netty.tcp {
                  hostname = "127.0.0.1"
                  port = 0
                  enable-ssl = true
                  maximum-frame-size = 4000000b
                  ssl {
                    suppress-validation = false
                    require-mutual-authentication = true
                    validate-certificate-hostname = false
                  }
                }
              }
            }
            """).WithFallback(ControlProtocolSerializer.ControlPlaneConfig());
        options.Progress?.Invoke("config parsed");
        var setup = BootstrapSetup.Create().WithConfig(config).And(TlsMaterial.SslSetup(certificate, verifier));
        // What ActorSystem.Create(name, setup) does, minus its ConfigurationFactory.Load(): Create evaluates
        // that (the app.config "akka" section through System.Configuration, ~30 ms) even when the setup
        // carries a config, and then discards it.
        var system = new ActorSystemImpl("supervisor-remote-client", config, setup);
        system.Start();
        options.Progress?.Invoke("actor system created");
        var client = new RemoteControlClient(options, certificate, system);
        options.Progress?.Invoke("client ready");
        return client;
    }

    public SignedCommand Sign(Command command, string? requestId = null) =>
        RequestSignature.Sign(command, _certificate, requestId ?? Guid.NewGuid().ToString("N"), DateTimeOffset.UtcNow);

    /// <summary>Sends <paramref name="command"/> signed and returns the daemon's reply (which may carry an error).</summary>
    public Task<IControlReply> Send(Command command, string? requestId = null)
    {
        var envelope = Sign(command, requestId);
        _options.Progress?.Invoke("signed");
        return Send(envelope);
    }

    /// <summary>Sends an already signed envelope (a retry sends the very same one).</summary>
    public async Task<IControlReply> Send(SignedCommand envelope)
    {
        // Half the budget for the first try, the rest for one retry of the same envelope.
        var half = TimeSpan.FromTicks(_options.Timeout.Ticks / 2);
        for (int attempt = 0; attempt < 2; attempt++)
        {
            var ask = _gateway.Ask<IControlReply>(envelope, half);
            var done = await Task.WhenAny(ask, _associationError.Task);
            if (done == _associationError.Task)
                throw new RemoteControlException($"cannot reach {_options.Host}:{_options.Port}: {_associationError.Task.Result}");
            try
            {
                return await ask;
            }
            catch (AskTimeoutException)
            {
            }
        }
        throw new RemoteControlException(
            $"no reply from {_options.Host}:{_options.Port} within {(int)_options.Timeout.TotalSeconds} s (daemon down, TLS refused, or busy)");
    }

    public async ValueTask DisposeAsync()
    {
        await System.Terminate().WaitAsync(TimeSpan.FromSeconds(5)).ContinueWith(_ => { }, TaskScheduler.Default);
        _certificate.Dispose();
    }

    /// <summary>
    /// Turns the first failed association (refused connection, TLS handshake refused) into a fast error. An
    /// UntypedActor: a ReceiveActor compiles its handlers into an expression tree when it starts, which a
    /// one-shot client would pay for on every call.
    /// </summary>
    private sealed class AssociationWatcher(TaskCompletionSource<string> error, Action<string>? progress) : UntypedActor
    {
        protected override void OnReceive(object message)
        {
            switch (message)
            {
                case AssociatedEvent:
                    progress?.Invoke("associated (TCP + TLS + Akka handshake)");
                    break;
                case AssociationErrorEvent e:
                    var cause = e.Cause;
                    while (cause?.InnerException is not null)
                        cause = cause.InnerException;
                    error.TrySetResult(cause?.Message ?? e.ToString());
                    break;
                default:
                    Unhandled(message);
                    break;
            }
        }
    }
}
