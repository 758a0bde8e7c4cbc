using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.StableDiffusion.Modules;

/// <summary>
/// GroupNorm (parameters <c>weight</c>, <c>bias</c> as in torch). A tiled decode (<see cref="OrleansDiffusion.Diffusion.StableDiffusion.VaeDecodeSession"/>)
/// normalizes with statistics pooled over every tile and applies only <see cref="Affine"/> of this module.
/// </summary>
public sealed class GroupNorm2d : nn.Module<Tensor, Tensor>
{
    internal readonly Parameter weight;
    internal readonly Parameter bias;

    public GroupNorm2d(int groups, int channels, double eps, Device? device = null)
        : base(nameof(GroupNorm2d))
    {
        Groups = groups;
        Eps = eps;
        weight = new Parameter(ones(channels, device: device));
        bias = new Parameter(zeros(channels, device: device));
        RegisterComponents();
    }

    public int Groups { get; }
    public double Eps { get; }

    public override Tensor forward(Tensor input) => nn.functional.group_norm(input, Groups, weight, bias, Eps);

    internal Tensor Affine(Tensor normalized) =>
        normalized.mul(weight.view(1, -1, 1, 1)).AddInPlace(bias.view(1, -1, 1, 1));
}
