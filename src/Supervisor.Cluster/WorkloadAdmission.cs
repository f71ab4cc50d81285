namespace Supervisor.Cluster;

/// <summary>
/// The last check before a node writes a workload's config and creates its container (a placement, or the
/// target end of a migration). A remote client's config was checked by the gateway that received it, but the
/// path rules (rootfs and bind sources inside allowed roots, symbolic links resolved) depend on the
/// filesystem of the node that runs the container, so that node checks again against its own.
/// </summary>
public interface IWorkloadAdmission
{
    /// <summary>Null when this node may run <paramref name="spec"/>; otherwise one line saying why not.</summary>
    string? Refuse(WorkloadSpec spec);
}

/// <summary>The roles a <see cref="WorkloadSpec.AdmitAs"/> may name (the control plane's certificate roles).</summary>
public static class AdmissionRoles
{
    public const string Admin = "admin";
    public const string Operator = "operator";
}

/// <summary>
/// The admission of a node that has no remote-control policy: it runs what the cluster API asks for (a
/// bundle path, or a config without a requester role: cluster members are trusted) and an admin's config,
/// but refuses an operator's config, since it has no allowed roots to check that config's paths against;
/// running it unchecked would hand the operator whatever this node's filesystem holds.
/// </summary>
public sealed class TrustedOnlyAdmission : IWorkloadAdmission
{
    public static readonly TrustedOnlyAdmission Instance = new();

    public string? Refuse(WorkloadSpec spec)
    {
        if (spec.Config is null || spec.AdmitAs is null or AdmissionRoles.Admin)
            return null;
        return spec.AdmitAs == AdmissionRoles.Operator
            ? "this node has no remote-control policy (supervisor.remote) to check an operator's config against"
            : $"unknown requester role \"{spec.AdmitAs}\"";
    }
}
