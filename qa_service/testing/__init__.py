"""What other code's tests use: the index backends' contract suite (`index_contract`)."""
