using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using Supervisor.Integration.Tests.Infrastructure;
using Supervisor.Remote.Tests.Infrastructure;

namespace Supervisor.Remote.Tests;

/// <summary>
/// The one-shot client (`supervisor remote`, which execs supervisor-remote) against a real daemon: it prints
/// the answer and exits 0, and once it has exited the daemon no longer holds anything for it (its event
/// subscriptions end).
/// </summary>
public sealed class RemoteClientTests
{
    [RootFact]
    public void A_state_call_prints_the_oci_state_and_exits_0()
    {
        using var d = new RemoteDaemon();
        var bundle = d.NewBundle("/bin/sleep", "1000");
        var id = "c-" + Guid.NewGuid().ToString("N")[..6];
        var run = d.Remote(d.Admin, "run", id, "--bundle", bundle.Dir);
        Assert.True(run.ExitCode == 0, run + "\n" + d.Log);

        var state = d.Remote(d.Admin, "state", id);
        Assert.True(state.ExitCode == 0, state.ToString());
        var o = JsonNode.Parse(state.Stdout)!.AsObject();
        Assert.Equal(id, o["id"]!.GetValue<string>());
        Assert.Equal("running", o["status"]!.GetValue<string>());
        Assert.Equal(run.Stdout.Trim(), o["pid"]!.GetValue<int>().ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal("", state.Stderr);

        // A second call right after the first works the same (nothing of the first one is left in the way).
        var again = d.Remote(d.Admin, "state", id);
        Assert.True(again.ExitCode == 0, again.ToString());
        Assert.Equal(state.Stdout, again.Stdout);
    }

    [RootFact]
    public void An_event_subscription_ends_in_the_daemon_when_the_client_that_made_it_exits()
    {
        using var d = new RemoteDaemon();
        var bundle = d.NewBundle("/bin/sleep", "1000");
        var id = "e-" + Guid.NewGuid().ToString("N")[..6];
        var run = d.Remote(d.Admin, "run", id, "--bundle", bundle.Dir);
        Assert.True(run.ExitCode == 0, run + "\n" + d.Log);

        using var events = StartRemote(d, "events", id, "--count", "1");
        var stdout = new StringBuilder();
        events.OutputDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (stdout)
                    stdout.AppendLine(e.Data);
            }
        };
        events.BeginOutputReadLine();
        var stderr = events.StandardError.ReadToEndAsync();

        // The gateway logs a subscription as it registers it.
        WaitFor(() => d.Log.Contains($"control: SubscribeEvents {id} request", StringComparison.Ordinal), d, "the subscription never reached the daemon");
        var pause = d.Remote(d.Admin, "pause", id);
        Assert.True(pause.ExitCode == 0, pause.ToString());

        Assert.True(events.WaitForExit(TimeSpan.FromSeconds(60)), "the events client did not exit after its one event:\n" + d.Log);
        events.WaitForExit();
        Assert.True(events.ExitCode == 0, $"exit {events.ExitCode}: {stderr.Result}");
        string printed;
        lock (stdout)
            printed = stdout.ToString();
        var ev = JsonNode.Parse(printed.Trim())!.AsObject();
        Assert.Equal("paused", ev["type"]!.GetValue<string>());
        Assert.Equal(id, ev["id"]!.GetValue<string>());

        WaitFor(() => d.Log.Contains("control: subscription ", StringComparison.Ordinal) && d.Log.Contains(" ended: ", StringComparison.Ordinal),
            d, "the daemon kept the subscription of a client that had exited");
    }

    private static Process StartRemote(RemoteDaemon d, params string[] args)
    {
        var psi = new ProcessStartInfo(TestPaths.Cli)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in (string[])["remote", "--address", $"127.0.0.1:{d.Port}", "--cert", d.Admin.Cert, "--key", d.Admin.Key, "--ca", d.Pki.CaPath, .. args])
            psi.ArgumentList.Add(a);
        return Process.Start(psi)!;
    }

    private static void WaitFor(Func<bool> condition, RemoteDaemon d, string failure)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, failure + "\n" + d.Log);
            Thread.Sleep(100);
        }
    }
}
