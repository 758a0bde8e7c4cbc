using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.StableDiffusion.Modules;

/// <summary>GEGLU (<c>proj</c>: dim → 2·inner; value · gelu(gate)).</summary>
public sealed class Geglu : nn.Module<Tensor, Tensor>
{
    internal readonly Linear proj;

    public Geglu(int dim, int inner, Device? device)
        : base("GEGLU")
    {
        proj = Layers.Linear(dim, inner * 2, device);
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var parts = proj.forward(input).chunk(2, -1);
        return parts[0].mul(nn.functional.gelu(parts[1])).MoveToOuterDisposeScope();
    }
}

/// <summary>diffusers' FeedForward: net.0 (GEGLU), net.1 (dropout), net.2 (linear back to dim).</summary>
public sealed class FeedForward : nn.Module<Tensor, Tensor>
{
    internal readonly ModuleList<nn.Module<Tensor, Tensor>> net;

    public FeedForward(int dim, Device? device, int multiplier = 4)
        : base(nameof(FeedForward))
    {
        var inner = dim * multiplier;
        net = nn.ModuleList<nn.Module<Tensor, Tensor>>(new Geglu(dim, inner, device), nn.Dropout(0), Layers.Linear(inner, dim, device));
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        using var hidden = net[0].forward(input);
        return net[2].forward(hidden);
    }
}
