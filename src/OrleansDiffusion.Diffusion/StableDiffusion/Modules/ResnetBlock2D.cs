using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.StableDiffusion.Modules;

/// <summary>diffusers' ResnetBlock2D: norm1, conv1, time_emb_proj (UNet only), norm2, conv2, conv_shortcut (when channels change).</summary>
public sealed class ResnetBlock2D : nn.Module<Tensor, Tensor?, Tensor>
{
    internal readonly GroupNorm2d norm1;
    internal readonly Conv2d conv1;
    internal readonly Linear? time_emb_proj;
    internal readonly GroupNorm2d norm2;
    internal readonly Conv2d conv2;
    internal readonly Conv2d? conv_shortcut;

    public ResnetBlock2D(int input, int output, int? timeEmbedding, int groups, double eps, Device? device)
        : base(nameof(ResnetBlock2D))
    {
        norm1 = new GroupNorm2d(groups, input, eps, device);
        conv1 = Layers.Conv(input, output, 3, device);
        if (timeEmbedding is { } t) time_emb_proj = Layers.Linear(t, output, device);
        norm2 = new GroupNorm2d(groups, output, eps, device);
        conv2 = Layers.Conv(output, output, 3, device);
        if (input != output) conv_shortcut = Layers.Conv(input, output, 1, device);
        RegisterComponents();
    }

    public override Tensor forward(Tensor input, Tensor? embedding)
    {
        using var scope = NewDisposeScope();
        var h = conv1.forward(nn.functional.silu(norm1.forward(input)));
        if (time_emb_proj is not null && embedding is not null)
            h = h.AddInPlace(time_emb_proj.forward(nn.functional.silu(embedding)).unsqueeze(-1).unsqueeze(-1));
        h = conv2.forward(nn.functional.silu(norm2.forward(h)));
        var shortcut = conv_shortcut is null ? input : conv_shortcut.forward(input);
        return shortcut.Plus(h).MoveToOuterDisposeScope();
    }
}
