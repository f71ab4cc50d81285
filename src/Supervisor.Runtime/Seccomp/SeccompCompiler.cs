using Supervisor.Linux;
using Supervisor.Linux.Seccomp;
using Supervisor.Linux.Shim;
using Supervisor.Runtime.Configs;

namespace Supervisor.Runtime.Seccomp;

/// <summary>A linux.seccomp object that cannot be compiled; Message is the first error, Errors all of them.</summary>
public sealed class SeccompConfigException(IReadOnlyList<string> errors) : Exception(errors[0])
{
    public IReadOnlyList<string> Errors { get; } = errors;
}

/// <summary>
/// Compiles an OCI linux.seccomp object into the classic BPF program the shim loads just before execve.
/// libseccomp builds the filter; the compiler maps OCI names onto it, checks everything first, and puts an
/// ENOSYS stub in front (see <see cref="EnosysStub"/>).
/// </summary>
public static partial class SeccompCompiler
{
    private const uint EPERM = 1;
    private const uint ENOSYS = 38;
    /// <summary>The kernel clamps SECCOMP_RET_ERRNO data to MAX_ERRNO.</summary>
    private const uint MaxErrno = 4095;
    /// <summary>BPF_MAXINSNS: the kernel refuses longer classic BPF programs.</summary>
    public const int MaxInstructions = 4096;

    /// <summary>OCI flag names and their SECCOMP_FILTER_FLAG_* bits.</summary>
    public static readonly IReadOnlyDictionary<string, uint> FilterFlags = new Dictionary<string, uint>(StringComparer.Ordinal)
    {
        ["SECCOMP_FILTER_FLAG_TSYNC"] = 1,
        ["SECCOMP_FILTER_FLAG_LOG"] = 2,
        ["SECCOMP_FILTER_FLAG_SPEC_ALLOW"] = 4,
        ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"] = 32,
    };

    /// <summary>
    /// Architectures consulted when a name does not resolve on the native one, so that a profile written for
    /// several architectures (Docker's lists 32-bit-only calls such as socketcall) compiles everywhere.
    /// </summary>
    private static readonly string[] KnownArchitectures =
    [
        "x86_64", "x86", "x32", "aarch64", "arm", "mips", "mipsel", "mips64", "mipsel64", "mips64n32",
        "mipsel64n32", "ppc", "ppc64", "ppc64le", "s390", "s390x", "parisc", "parisc64", "riscv64",
    ];

    /// <summary>All problems of <paramref name="config"/>, each one line prefixed "linux.seccomp"; empty if it compiles.</summary>
    public static IReadOnlyList<string> Validate(SeccompConfig config)
    {
        var errors = Plan(config).Errors;
        if (errors.Count > 0)
        {
            return errors;
        }

        // What only libseccomp can see (conflicting rules) shows up when the filter is built.
        try
        {
            Compile(config);
            return [];
        }
        catch (SeccompConfigException ex)
        {
            return ex.Errors;
        }
    }

    /// <summary>The BPF program and the SECCOMP_FILTER_FLAG_* word for the shim. Throws <see cref="SeccompConfigException"/>.</summary>
    public static ShimSeccomp Compile(SeccompConfig config)
    {
        var plan = Plan(config);
        if (plan.Errors.Count > 0)
        {
            throw new SeccompConfigException(plan.Errors);
        }

        byte[] program;
        using (var filter = new SeccompFilter(plan.DefaultAction))
        {
            foreach (var arch in plan.Arches)
            {
                filter.AddArch(arch);
            }

            foreach (var rule in plan.Rules)
            {
                try
                {
                    filter.AddRule(rule.Action, rule.Syscall, rule.Args, rule.Name);
                }
                catch (SyscallException ex) when (ex.Errno == Errno.EEXIST)
                {
                    // libseccomp keeps the first of two rules with the same syscall and comparisons; it
                    // refuses a second one only when that would need a different action.
                    throw new SeccompConfigException(
                        [$"linux.seccomp: syscall \"{rule.Name}\" has two rules with the same arguments and different actions"]);
                }
            }

            program = filter.ExportBpf();
        }

        if (StubApplies(plan.DefaultAction))
        {
            program = [.. EnosysStub(plan.Arches, plan.Names), .. program];
        }

        var count = program.Length / SeccompFilter.InstructionSize;
        if (count > MaxInstructions)
        {
            throw new SeccompConfigException(
                [$"linux.seccomp: the filter compiles to {count} BPF instructions, more than the kernel's limit of {MaxInstructions}"]);
        }

        return new ShimSeccomp(plan.Flags, program);
    }

    private sealed record Rule(string Name, int Syscall, uint Action, SeccompArgCompare[] Args);

    private sealed class CompilePlan
    {
        public List<string> Errors { get; } = [];
        public uint DefaultAction { get; set; }
        public uint Flags { get; set; }
        public List<uint> Arches { get; } = [];
        public List<Rule> Rules { get; } = [];
        /// <summary>Every syscall name the profile mentions, for the ENOSYS stub's per-arch maximum.</summary>
        public HashSet<string> Names { get; } = new(StringComparer.Ordinal);
    }

    private static CompilePlan Plan(SeccompConfig config)
    {
        var plan = new CompilePlan();
        var errors = plan.Errors;

        if (!string.IsNullOrEmpty(config.ListenerPath))
        {
            errors.Add("linux.seccomp: listenerPath is not supported (SCMP_ACT_NOTIFY is not supported)");
        }

        if (TryAction(config.DefaultAction, config.DefaultErrnoRet, out var defaultAction, out var error, "defaultErrnoRet"))
        {
            plan.DefaultAction = defaultAction;
        }
        else
        {
            errors.Add($"linux.seccomp: defaultAction: {error}");
        }

        foreach (var flag in config.Flags)
        {
            if (FilterFlags.TryGetValue(flag, out var bit))
            {
                plan.Flags |= bit;
            }
            else
            {
                errors.Add($"linux.seccomp: unknown flag \"{flag}\"");
            }
        }

        plan.Arches.Add(SeccompFilter.NativeArch);
        using (var trial = new SeccompFilter(SeccompAction.Allow))
        {
            foreach (var name in config.Architectures)
            {
                var token = ResolveOciArch(name);
                if (token == 0)
                {
                    errors.Add($"linux.seccomp: unknown architecture \"{name}\"");
                    continue;
                }

                try
                {
                    trial.AddArch(token);
                }
                catch (SyscallException ex) when (ex.Errno == Errno.EDOM)
                {
                    // libseccomp keeps one byte order per filter and refuses to mix them.
                    errors.Add($"linux.seccomp: architecture \"{name}\" cannot be filtered together with the native one (different byte order)");
                    continue;
                }

                if (!plan.Arches.Contains(token))
                {
                    plan.Arches.Add(token);
                }
            }
        }

        for (var i = 0; i < config.Syscalls.Count; i++)
        {
            PlanSyscall(plan, config.Syscalls[i], $"linux.seccomp: syscalls[{i}]");
        }

        return plan;
    }

    private static void PlanSyscall(CompilePlan plan, SeccompSyscall entry, string where)
    {
        var errors = plan.Errors;
        if (entry.Names.Count == 0)
        {
            errors.Add($"{where}: names is empty");
        }

        var actionOk = TryAction(entry.Action, entry.ErrnoRet, out var action, out var actionError);
        if (!actionOk)
        {
            errors.Add($"{where}: {actionError}");
        }

        var args = new SeccompArgCompare[entry.Args.Count];
        var argsOk = true;
        for (var j = 0; j < entry.Args.Count; j++)
        {
            var arg = entry.Args[j];
            if (arg.Index > 5)
            {
                errors.Add($"{where}.args[{j}]: index {arg.Index} is out of range (a syscall has arguments 0 to 5)");
                argsOk = false;
            }

            if (!TryOperator(arg.Op, out var op))
            {
                errors.Add($"{where}.args[{j}]: unknown operator \"{arg.Op}\"");
                argsOk = false;
            }

            // For SCMP_CMP_MASKED_EQ the OCI value is the mask and valueTwo the datum, which is exactly
            // libseccomp's datum_a/datum_b order; the other operators ignore datum_b.
            args[j] = new SeccompArgCompare(arg.Index, op, arg.Value, arg.ValueTwo);
        }

        foreach (var name in entry.Names)
        {
            plan.Names.Add(name);
            var nr = SeccompFilter.ResolveSyscall(SeccompFilter.NativeArch, name);
            if (nr == SeccompFilter.UnknownSyscall)
            {
                if (!ExistsElsewhere(plan.Arches, name))
                {
                    errors.Add($"linux.seccomp: unknown syscall \"{name}\"");
                }

                // Known on another architecture only: nothing to filter on this one.
                continue;
            }

            // libseccomp refuses a rule whose action is the default action (it would be a no-op).
            if (!actionOk || !argsOk || action == plan.DefaultAction)
            {
                continue;
            }

            // One rule ANDs its comparisons, but libseccomp refuses two comparisons on the same argument in
            // one rule (EINVAL). As runc does, such an entry becomes one rule per comparison, which ORs them.
            if (HasRepeatedIndex(args))
            {
                foreach (var arg in args)
                {
                    plan.Rules.Add(new Rule(name, nr, action, [arg]));
                }
            }
            else
            {
                plan.Rules.Add(new Rule(name, nr, action, args));
            }
        }
    }

    private static bool ExistsElsewhere(List<uint> arches, string name)
    {
        foreach (var arch in arches)
        {
            if (SeccompFilter.ResolveSyscall(arch, name) != SeccompFilter.UnknownSyscall)
            {
                return true;
            }
        }

        foreach (var archName in KnownArchitectures)
        {
            var token = SeccompFilter.ResolveArch(archName);
            if (token != 0 && SeccompFilter.ResolveSyscall(token, name) != SeccompFilter.UnknownSyscall)
            {
                return true;
            }
        }

        return false;
    }

    private static bool HasRepeatedIndex(SeccompArgCompare[] args)
    {
        for (var a = 0; a < args.Length; a++)
        {
            for (var b = a + 1; b < args.Length; b++)
            {
                if (args[a].Arg == args[b].Arg)
                {
                    return true;
                }
            }
        }

        return false;
    }

    /// <summary>"SCMP_ARCH_X86_64" → libseccomp's "x86_64" → its AUDIT_ARCH token; 0 when unknown.</summary>
    public static uint ResolveOciArch(string name)
    {
        const string prefix = "SCMP_ARCH_";
        if (!name.StartsWith(prefix, StringComparison.Ordinal) || name.Length == prefix.Length)
        {
            return 0;
        }

        return SeccompFilter.ResolveArch(name[prefix.Length..].ToLowerInvariant());
    }

    internal static bool TryOperator(string name, out SeccompCompareOp op)
    {
        op = name switch
        {
            "SCMP_CMP_NE" => SeccompCompareOp.NotEqual,
            "SCMP_CMP_LT" => SeccompCompareOp.LessThan,
            "SCMP_CMP_LE" => SeccompCompareOp.LessOrEqual,
            "SCMP_CMP_EQ" => SeccompCompareOp.Equal,
            "SCMP_CMP_GE" => SeccompCompareOp.GreaterOrEqual,
            "SCMP_CMP_GT" => SeccompCompareOp.GreaterThan,
            "SCMP_CMP_MASKED_EQ" => SeccompCompareOp.MaskedEqual,
            _ => 0,
        };
        return op != 0;
    }

    /// <summary>Maps an OCI action name (with its errnoRet) to the SECCOMP_RET_* value.</summary>
    public static bool TryAction(string name, uint? errnoRet, out uint action, out string? error, string errnoField = "errnoRet")
    {
        action = 0;
        error = null;
        switch (name)
        {
            case "SCMP_ACT_ERRNO":
                var errno = errnoRet ?? EPERM;
                if (errno > MaxErrno)
                {
                    error = $"{errnoField} {errno} is larger than {MaxErrno}";
                    return false;
                }

                action = SeccompAction.Errno((ushort)errno);
                return true;
            case "SCMP_ACT_TRACE":
                // Like runc, a trace rule without errnoRet hands the tracer EPERM as its message.
                var data = errnoRet ?? EPERM;
                if (data > ushort.MaxValue)
                {
                    error = $"{errnoField} {data} does not fit the 16-bit SCMP_ACT_TRACE data";
                    return false;
                }

                action = SeccompAction.Trace((ushort)data);
                return true;
            case "SCMP_ACT_NOTIFY":
                error = "SCMP_ACT_NOTIFY is not supported (no seccomp listener agent support)";
                return false;
        }

        uint? simple = name switch
        {
            "SCMP_ACT_KILL" or "SCMP_ACT_KILL_THREAD" => SeccompAction.KillThread,
            "SCMP_ACT_KILL_PROCESS" => SeccompAction.KillProcess,
            "SCMP_ACT_TRAP" => SeccompAction.Trap,
            "SCMP_ACT_ALLOW" => SeccompAction.Allow,
            "SCMP_ACT_LOG" => SeccompAction.Log,
            _ => null,
        };
        if (simple is null)
        {
            error = $"unknown action \"{name}\"";
            return false;
        }

        if (errnoRet is not null)
        {
            error = $"{errnoField} is only valid with SCMP_ACT_ERRNO and SCMP_ACT_TRACE, not {name}";
            return false;
        }

        action = simple.Value;
        return true;
    }

    /// <summary>A default action that blocks calls: unknown, newer calls then get ENOSYS from the stub.</summary>
    private static bool StubApplies(uint defaultAction) =>
        defaultAction != SeccompAction.Allow && defaultAction != SeccompAction.Log;
}
