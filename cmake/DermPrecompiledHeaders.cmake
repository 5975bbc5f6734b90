# LibTorch's headers are heavy: the `derm` library precompiles <torch/torch.h>
# once and every other target that includes torch reuses that header.

# derm_reuse_torch_pch(target): compile `target` with the derm library's PCH.
function(derm_reuse_torch_pch target)
  if(DERM_USE_PCH)
    target_precompile_headers(${target} REUSE_FROM derm)
  endif()
endfunction()
