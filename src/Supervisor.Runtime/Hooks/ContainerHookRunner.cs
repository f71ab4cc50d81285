using System.IO.Pipes;
using System.Text;
using Supervisor.Linux;
using Supervisor.Linux.Shim;
using Supervisor.Runtime.Configs;

namespace Supervisor.Runtime.Hooks;

/// <summary>
/// Runs the OCI hooks that belong *inside* the container (createContainer, startContainer). The hook
/// program is started by the shim in exec mode, so it joins all of the container's namespaces, its
/// mount namespace included, without the runtime's own process ever entering them; it keeps the
/// runtime's credentials (no capability drop, no seccomp), and gets the state JSON on stdin like the
/// host-side hooks. The path is resolved in the container's mount namespace, as runtime-spec says for
/// startContainer. For createContainer the spec runs the hook before pivot_root; here it runs after the
/// root switch, when the init is ready, so its path is also resolved inside the container.
/// </summary>
public static class ContainerHookRunner
{
    public static void Run(string kind, IReadOnlyList<Hook> hooks, string stateJson, string shimPath,
        IReadOnlyList<(NamespaceType Type, string Path)> namespaces)
    {
        for (int i = 0; i < hooks.Count; i++)
            RunOne(kind, i, hooks[i], stateJson, shimPath, namespaces);
    }

    private static void RunOne(string kind, int index, Hook hook, string stateJson, string shimPath,
        IReadOnlyList<(NamespaceType Type, string Path)> namespaces)
    {
        var request = new ShimRequest { Mode = ShimMode.Exec, Cwd = "/" };
        foreach (var type in NamespaceTypes.JoinOrder)
        {
            foreach (var (t, path) in namespaces)
            {
                if (t == type)
                    request.Namespaces.Add(new ShimNamespace(type.CloneFlag(), path));
            }
        }
        // argv[0] is the path itself: the shim looks up args[0], and a hook names its program by path.
        request.Args.Add(hook.Path);
        request.Args.AddRange(hook.Args.Skip(1));
        request.Env.AddRange(hook.Env);

        // The state is small (well under a pipe's 64 KiB), so it is written and the write end closed
        // before the hook starts: the hook reads it, then EOF.
        using var pipe = new AnonymousPipeServerStream(PipeDirection.Out, HandleInheritability.Inheritable);
        var bytes = Encoding.UTF8.GetBytes(stateJson);
        pipe.Write(bytes);
        ShimSession session;
        try
        {
            session = ShimSession.Spawn(shimPath, request,
                new ShimStdio((int)pipe.ClientSafePipeHandle.DangerousGetHandle(), 1, 2));
        }
        finally
        {
            pipe.DisposeLocalCopyOfClientHandle();
        }
        pipe.Dispose();
        using (session)
        {
            try
            {
                session.WaitChild();
                session.Go();
                session.WaitExeced();
            }
            catch (ShimException e)
            {
                session.WaitShimExit();
                throw new HookException($"error running {kind} hook #{index}: {e.Message}");
            }
            var timeout = hook.Timeout is > 0 ? TimeSpan.FromSeconds(hook.Timeout.Value) : (TimeSpan?)null;
            ShimExit exit;
            try
            {
                exit = session.WaitExit(default, timeout);
            }
            catch (TimeoutException)
            {
                try { Syscalls.Kill(session.ChildPid, Syscalls.SIGKILL); } catch (SyscallException) { }
                session.WaitShimExit();
                throw new HookException($"error running {kind} hook #{index}: timeout after {hook.Timeout}s");
            }
            session.WaitShimExit();
            if (exit.ExitCode != 0)
                throw new HookException($"error running {kind} hook #{index}: exit status {exit.ExitCode}");
        }
    }
}
