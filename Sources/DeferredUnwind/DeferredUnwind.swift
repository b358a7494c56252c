public enum DeferredUnwind {}
