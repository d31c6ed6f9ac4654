// The ship types of the shipped table (data/ships.toml), for the lobby's choices. The protocol has
// no message listing the server's table, so the page carries this copy; a browser test checks it
// against data/ships.toml. A ship the server does not know is refused with no_such_ship.
export const SHIPS = [
  ['scout', 'Scout'],
  ['free_trader', 'Free Trader'],
  ['far_trader', 'Far Trader'],
  ['seeker', 'Seeker'],
  ['safari_ship', 'Safari Ship'],
  ['laboratory_ship', 'Laboratory Ship'],
  ['patrol_corvette', 'Patrol Corvette'],
  ['subsidised_liner', 'Subsidised Liner'],
  ['mercenary_cruiser', 'Mercenary Cruiser'],
];
