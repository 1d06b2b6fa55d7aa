"""The immune cascade: dendritic cells, lymph-node priming, effector T cells in lesions, suppressors."""
