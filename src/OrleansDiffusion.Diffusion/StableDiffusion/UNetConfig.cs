namespace OrleansDiffusion.Diffusion.StableDiffusion;

/// <summary><c>unet/config.json</c> of a UNet2DConditionModel (SD 1.x / 2.x), diffusers field names. The property
/// defaults are diffusers' defaults, and <see cref="Read"/> falls back to them (the one place they are written).</summary>
public sealed record UNetConfig
{
    public int InChannels { get; init; } = 4;
    public int OutChannels { get; init; } = 4;
    public int[] BlockOutChannels { get; init; } = [320, 640, 1280, 1280];
    public string[] DownBlockTypes { get; init; } = ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"];
    public string[] UpBlockTypes { get; init; } = ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"];
    public string MidBlockType { get; init; } = "UNetMidBlock2DCrossAttn";
    public int LayersPerBlock { get; init; } = 2;

    /// <summary>Heads per block: diffusers' <c>num_attention_heads</c>, else (its historical naming) <c>attention_head_dim</c>.</summary>
    public int[] AttentionHeads { get; init; } = [8, 8, 8, 8];
    public int CrossAttentionDim { get; init; } = 1280;
    public bool UseLinearProjection { get; init; }
    public int NormNumGroups { get; init; } = 32;
    public double NormEps { get; init; } = 1e-5;
    public bool FlipSinToCos { get; init; } = true;
    public int FreqShift { get; init; }
    public int SampleSize { get; init; } = 64;

    /// <summary>Down/up-samplings: a latent side must be a multiple of 2^this.</summary>
    public int Downsamplings => BlockOutChannels.Length - 1;

    public static UNetConfig Read(string path)
    {
        var c = ConfigReader.Open(path);
        var d = new UNetConfig();
        var blocks = c.Ints("block_out_channels", d.BlockOutChannels);
        var config = new UNetConfig
        {
            InChannels = c.Int("in_channels", d.InChannels),
            OutChannels = c.Int("out_channels", d.OutChannels),
            BlockOutChannels = blocks,
            DownBlockTypes = c.Strings("down_block_types", d.DownBlockTypes),
            UpBlockTypes = c.Strings("up_block_types", d.UpBlockTypes),
            MidBlockType = c.String("mid_block_type", d.MidBlockType),
            LayersPerBlock = c.Int("layers_per_block", d.LayersPerBlock),
            AttentionHeads = c.Has("num_attention_heads")
                ? c.IntOrInts("num_attention_heads", blocks.Length)
                : c.IntOrInts("attention_head_dim", blocks.Length, d.AttentionHeads[0]),
            CrossAttentionDim = c.Int("cross_attention_dim", d.CrossAttentionDim),
            UseLinearProjection = c.Bool("use_linear_projection", d.UseLinearProjection),
            NormNumGroups = c.Int("norm_num_groups", d.NormNumGroups),
            NormEps = c.Double("norm_eps", d.NormEps),
            FlipSinToCos = c.Bool("flip_sin_to_cos", d.FlipSinToCos),
            FreqShift = c.Int("freq_shift", d.FreqShift),
            SampleSize = c.IsNullOrAbsent("sample_size") ? d.SampleSize : c.Int("sample_size"),
        };
        if (config.DownBlockTypes.Length != blocks.Length) throw c.Error("down_block_types", $"lists {config.DownBlockTypes.Length} blocks, block_out_channels {blocks.Length}");
        if (config.UpBlockTypes.Length != blocks.Length) throw c.Error("up_block_types", $"lists {config.UpBlockTypes.Length} blocks, block_out_channels {blocks.Length}");
        foreach (var type in config.DownBlockTypes)
            if (type is not ("CrossAttnDownBlock2D" or "DownBlock2D")) throw c.Error("down_block_types", $"'{type}' is not supported (CrossAttnDownBlock2D, DownBlock2D)");
        foreach (var type in config.UpBlockTypes)
            if (type is not ("CrossAttnUpBlock2D" or "UpBlock2D")) throw c.Error("up_block_types", $"'{type}' is not supported (CrossAttnUpBlock2D, UpBlock2D)");
        if (config.MidBlockType != "UNetMidBlock2DCrossAttn") throw c.Error("mid_block_type", $"'{config.MidBlockType}' is not supported (UNetMidBlock2DCrossAttn)");
        foreach (var field in new[] { "class_embed_type", "addition_embed_type", "encoder_hid_dim" })
            if (c.Has(field)) throw c.Error(field, "is not supported by this UNet (SD 1.x / 2.x only)");
        for (var i = 0; i < blocks.Length; i++)
        {
            if (blocks[i] % config.NormNumGroups != 0) throw c.Error("block_out_channels", $"{blocks[i]} is not a multiple of norm_num_groups {config.NormNumGroups}");
            if (blocks[i] % config.AttentionHeads[i] != 0) throw c.Error("attention_head_dim", $"block {i}: {blocks[i]} channels do not split into {config.AttentionHeads[i]} heads");
        }
        return config;
    }
}
