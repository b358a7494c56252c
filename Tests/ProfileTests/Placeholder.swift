// Placeholder: profile tests land here.
