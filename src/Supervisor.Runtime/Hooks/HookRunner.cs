using System.Diagnostics;
using Supervisor.Runtime.Configs;

namespace Supervisor.Runtime.Hooks;

public sealed class HookException(string message) : RuntimeException(message);

/// <summary>
/// Runs OCI hooks: each is a host program that gets the container's state JSON on stdin (runtime-spec
/// "hooks"), must exit 0, and is killed when it outlives its timeout.
/// </summary>
public static class HookRunner
{
    public static void Run(string kind, IReadOnlyList<Hook> hooks, string stateJson)
    {
        for (int i = 0; i < hooks.Count; i++)
            RunOne(kind, i, hooks[i], stateJson);
    }

    private static void RunOne(string kind, int index, Hook hook, string stateJson)
    {
        var psi = new ProcessStartInfo(hook.Path)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = false,
            RedirectStandardError = false,
            UseShellExecute = false,
        };
        // args[0] is argv0 in OCI; ProcessStartInfo always uses the path as argv0, so the rest follow it.
        foreach (var a in hook.Args.Skip(1))
            psi.ArgumentList.Add(a);
        if (hook.Env.Count > 0)
        {
            psi.Environment.Clear();
            foreach (var e in hook.Env)
            {
                int eq = e.IndexOf('=');
                if (eq > 0)
                    psi.Environment[e[..eq]] = e[(eq + 1)..];
            }
        }
        Process proc;
        try
        {
            proc = Process.Start(psi) ?? throw new HookException($"error running {kind} hook #{index}: could not start {hook.Path}");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new HookException($"error running {kind} hook #{index}: {hook.Path}: {e.Message}");
        }
        using (proc)
        {
            try
            {
                proc.StandardInput.Write(stateJson);
                proc.StandardInput.Close();
            }
            catch (IOException)
            {
                // A hook that does not read its stdin is allowed; the pipe is just closed early.
            }
            var timeout = hook.Timeout is > 0 ? TimeSpan.FromSeconds(hook.Timeout.Value) : Timeout.InfiniteTimeSpan;
            if (!proc.WaitForExit(timeout))
            {
                try { proc.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
                proc.WaitForExit();
                throw new HookException($"error running {kind} hook #{index}: timeout after {hook.Timeout}s");
            }
            if (proc.ExitCode != 0)
                throw new HookException($"error running {kind} hook #{index}: exit status {proc.ExitCode}");
        }
    }
}
