# LibTorch's headers are heavy: the model layer (derm_model) precompiles
# <torch/torch.h> once and every other target that includes torch reuses it.

# derm_reuse_torch_pch(target): compile `target` with derm_model's PCH.
function(derm_reuse_torch_pch target)
  if(DERM_USE_PCH)
    target_precompile_headers(${target} REUSE_FROM derm_model)
  endif()
endfunction()
