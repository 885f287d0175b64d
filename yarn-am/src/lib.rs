//! The application master: registers with the ResourceManager, hosts the driver, asks for
//! executor containers and launches them through the NodeManagers.
