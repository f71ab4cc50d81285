namespace Supervisor.Remote.Security;

/// <summary>What a certificate may do, read from its subject's OU.</summary>
public enum ControlRole
{
    /// <summary>Runs and manages ordinary containers; the policy gate refuses anything that reaches into the host.</summary>
    Operator,

    /// <summary>May also ask for privileged configurations (extra capabilities, host namespaces, host mounts, devices, hooks).</summary>
    Admin,
}

/// <summary>A certificate that passed every check, with the role it carries.</summary>
public sealed record AuthenticatedPeer(ControlRole Role, string Subject, string Thumbprint);
