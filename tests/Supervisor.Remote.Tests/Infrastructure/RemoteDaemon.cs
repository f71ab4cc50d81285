using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Supervisor.Integration.Tests.Infrastructure;

namespace Supervisor.Remote.Tests.Infrastructure;

/// <summary>
/// A real supervisor-daemon (artifacts/bin) as a separate process with the remote control plane on a
/// loopback port of its own, its own state root, and certificates made by the test: node, admin and
/// operator from <see cref="Pki"/>, allowlisted by subject. Disposing kills it and force-deletes every
/// container it left.
/// </summary>
public sealed class RemoteDaemon : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _log = new();
    private readonly List<Bundle> _bundles = [];

    public RemoteDaemon(string? extraRemoteConfig = null)
    {
        Pki = new TestPki();
        StateRoot = Path.Combine("/run", "sv-rtest-" + Guid.NewGuid().ToString("N")[..10]);
        // Bundle (the integration helper) makes its bundles in the temp directory.
        AllowedRoot = Path.GetFullPath(Path.GetTempPath());
        Port = FreePort();

        using var node = Pki.Issue("node", "node");
        using var admin = Pki.Issue("admin", "admin");
        using var op = Pki.Issue("op", "operator");
        Node = Pki.Write("node", node);
        Admin = Pki.Write("admin", admin);
        Operator = Pki.Write("operator", op);

        ConfigPath = Path.Combine(Pki.Dir, "daemon.conf");
        File.WriteAllText(ConfigPath, $$"""
            supervisor {
              stop-timeout = 2s
              remote {
                hostname = "127.0.0.1"
                port = {{Port}}
                node-name = "test-node"
                tls { ca = "{{Pki.CaPath}}", certificate = "{{Node.Cert}}", key = "{{Node.Key}}" }
                allowed-subjects = [
                  "CN=node, OU=node, O=Supervisor Test",
                  "CN=admin, OU=admin, O=Supervisor Test",
                  "CN=op, OU=operator, O=Supervisor Test",
                ]
                ask-timeout = 60s
                policy { allowed-bundle-roots = ["{{AllowedRoot}}"] }
                {{extraRemoteConfig}}
              }
            }
            """);

        var psi = new ProcessStartInfo(Path.Combine(TestPaths.BinDir, "supervisor-daemon"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        psi.ArgumentList.Add("--config");
        psi.ArgumentList.Add(ConfigPath);
        psi.ArgumentList.Add("--root");
        psi.ArgumentList.Add(StateRoot);
        var listening = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _process = Process.Start(psi)!;
        _process.OutputDataReceived += (_, e) =>
        {
            lock (_log)
                _log.AppendLine(e.Data);
            if (e.Data?.Contains("control: listening on", StringComparison.Ordinal) == true)
                listening.TrySetResult();
        };
        _process.ErrorDataReceived += (_, e) =>
        {
            lock (_log)
                _log.AppendLine(e.Data);
        };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        if (!listening.Task.Wait(TimeSpan.FromSeconds(60)))
        {
            Dispose();
            throw new TimeoutException($"the daemon did not start listening:\n{Log}");
        }
    }

    public TestPki Pki { get; }

    public string StateRoot { get; }

    /// <summary>The directory operators' bundles may live in (policy.allowed-bundle-roots).</summary>
    public string AllowedRoot { get; }

    public int Port { get; }

    public string ConfigPath { get; }

    public (string Cert, string Key) Node { get; }

    public (string Cert, string Key) Admin { get; }

    public (string Cert, string Key) Operator { get; }

    public bool Alive => !_process.HasExited;

    public int Pid => _process.Id;

    public string Log
    {
        get
        {
            lock (_log)
                return _log.ToString();
        }
    }

    /// <summary>`supervisor remote` through the NativeAOT CLI (which execs supervisor-remote) with the given certificate.</summary>
    public CliResult Remote((string Cert, string Key) who, params string[] args) =>
        Cli.Run(StateRoot, ["remote", "--address", $"127.0.0.1:{Port}", "--cert", who.Cert, "--key", who.Key, "--ca", Pki.CaPath, "--timeout", "30", .. args]);

    /// <summary>A busybox bundle in the temp directory (the allowed bundle root), removed with the daemon.</summary>
    public Bundle NewBundle(params string[] args)
    {
        var b = new Bundle(StateRoot, args: args);
        _bundles.Add(b);
        return b;
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit(10_000);
        }
        _process.Dispose();
        if (Directory.Exists(StateRoot))
        {
            foreach (var dir in Directory.GetDirectories(StateRoot))
            {
                var name = Path.GetFileName(dir);
                if (!name.StartsWith('.'))
                    Cli.Run(StateRoot, "delete", "--force", name);
            }
            try
            {
                Directory.Delete(StateRoot, recursive: true);
            }
            catch (IOException)
            {
            }
        }
        foreach (var b in _bundles)
            b.Dispose();
        foreach (var dir in new[] { StateRoot + "-bundles" })
        {
            try
            {
                if (Directory.Exists(dir))
                    Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
        Pki.Dispose();
    }
}
