"""Finding a user, an organization or a feature from a few typed characters: the results and
the labels of the searchable pickers, limited to what the actor may see."""
